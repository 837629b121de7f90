import Foundation
import XCTest

extension XCTestCase {
    /// Asserts an OpenAI-style error body with the given status (and param, if given).
    func assertError(_ reply: RawHTTPClient.Reply, _ status: Int, param: String? = nil, code: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(reply.status, status, reply.text, file: file, line: line)
        guard let error = (try? reply.json())?["error"] as? [String: Any] else {
            return XCTFail("no error object in \(reply.text)", file: file, line: line)
        }
        XCTAssertNotNil(error["message"] as? String, file: file, line: line)
        XCTAssertNotNil(error["type"] as? String, file: file, line: line)
        XCTAssertNotNil(error["code"], file: file, line: line)
        if let param { XCTAssertEqual(error["param"] as? String, param, reply.text, file: file, line: line) }
        if let code { XCTAssertEqual(error["code"] as? String, code, reply.text, file: file, line: line) }
    }
}
