import XCTest
@testable import LoomEval

final class LoomEvalModuleTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(LoomEval.self as Any.Type?) }
}
