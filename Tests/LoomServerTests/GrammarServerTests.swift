import Foundation
import XCTest
@testable import LoomServer

/// Structured output over real HTTP with the test model: `response_format` and `grammar`
/// constrain the answers of both endpoints (streamed or not), and a bad schema is a 400.
final class GrammarServerTests: XCTestCase {
    var server: TestServer!
    var client: RawHTTPClient { server.client }
    let auth = TestServer.auth

    override func setUpWithError() throws {
        server = try TestServer.shared.get()
    }

    func testResponseFormatAndGrammarConstrainAnswers() throws {
        let schema = #"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "risk": {"enum": ["low", "high"]}}, "required": ["name", "risk"], "additionalProperties": false}"#
        for seed in 0..<2 {
            let body = #"{"messages": [{"role": "user", "content": "Describe the token PEPE as JSON."}], "max_tokens": 60, "seed": \#(seed), "temperature": 0.9, "response_format": {"type": "json_schema", "json_schema": {"name": "verdict", "strict": true, "schema": \#(schema)}}}"#
            let reply = try client.request("POST", "/v1/chat/completions", raw: body, headers: auth)
            XCTAssertEqual(reply.status, 200, reply.text)
            let choice = try XCTUnwrap((try reply.json()["choices"] as? [[String: Any]])?.first)
            let content = try XCTUnwrap((choice["message"] as? [String: Any])?["content"] as? String)
            XCTAssertEqual(choice["finish_reason"] as? String, "stop", content)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any], content)
            XCTAssertEqual(Array(object.keys).sorted(), ["name", "risk"], content)
            XCTAssertTrue(["low", "high"].contains(object["risk"] as? String ?? ""), content)
            XCTAssertLessThanOrEqual((object["name"] as? String ?? "").count, 12, content)
        }

        let json = try client.post("/v1/chat/completions", ["messages": [["role": "user", "content": "Any JSON please."]],
                                                             "max_tokens": 40, "response_format": ["type": "json_object"]], headers: auth)
        XCTAssertEqual(json.status, 200, json.text)
        let text = try XCTUnwrap(((try json.json()["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
        // Stopped by length or complete: either way a prefix of an object.
        XCTAssertTrue(text.hasPrefix("{"), text)

        let completion = try client.post("/v1/completions", ["prompt": "The answer is", "max_tokens": 8, "stream": true,
                                                              "grammar": "root ::= \" \" (\"yes\" | \"no\") \".\""], headers: auth)
        XCTAssertEqual(completion.status, 200, completion.text)
        var streamed = ""
        for line in completion.text.split(separator: "\n") where line.hasPrefix("data: {") {
            let event = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
            streamed += ((event["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        }
        XCTAssertTrue([" yes.", " no."].contains(streamed), streamed)

        let bad = try client.post("/v1/chat/completions", ["messages": [["role": "user", "content": "x"]],
                                                           "response_format": ["type": "json_schema", "json_schema": ["schema": ["type": "integer", "maximum": 3]]]],
                                  headers: auth)
        XCTAssertEqual(bad.status, 400, bad.text)
        XCTAssertTrue(bad.text.contains("unsupported keyword 'maximum'"), bad.text)
    }
}
