import Foundation
import XCTest
@testable import LoomServer

/// Tool calls over real HTTP: `message.tool_calls` and `delta.tool_calls`, `tool_choice`
/// enforced by grammar, `parallel_tool_calls`, tool results going back through the template,
/// and 400s naming the bad field. The smollm2 test model's template has no tool syntax (the
/// generic JSON format); the Qwen2.5 test model's is Hermes-style `<tool_call>`.
final class ToolCallServerTests: XCTestCase {
    let auth = TestServer.auth

    static let tools: [[String: Any]] = [
        ["type": "function", "function": [
            "name": "get_weather", "description": "Current weather in a city",
            "parameters": ["type": "object", "properties": ["city": ["type": "string", "maxLength": 24],
                                                            "unit": ["enum": ["celsius", "fahrenheit"]]],
                           "required": ["city"], "additionalProperties": false]]],
        ["type": "function", "function": [
            "name": "get_time", "description": "Current time in a time zone",
            "parameters": ["type": "object", "properties": ["zone": ["type": "string", "pattern": "^[A-Z][a-z]{2,12}/[A-Z][a-z]{2,12}$"]],
                           "required": ["zone"], "additionalProperties": false]]],
    ]

    /// Checks a call object in OpenAI's shape against the two tools' schemas; returns its name.
    @discardableResult
    static func checkCall(_ call: [String: Any], streamed: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        XCTAssertEqual(call["type"] as? String, "function", file: file, line: line)
        let id = try XCTUnwrap(call["id"] as? String, file: file, line: line)
        XCTAssertFalse(id.isEmpty, file: file, line: line)
        let function = try XCTUnwrap(call["function"] as? [String: Any], file: file, line: line)
        let name = try XCTUnwrap(function["name"] as? String, file: file, line: line)
        let text = try XCTUnwrap(function["arguments"] as? String, "arguments must be a JSON string", file: file, line: line)
        let arguments = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text, file: file, line: line)
        switch name {
        case "get_weather":
            let city = try XCTUnwrap(arguments["city"] as? String, text, file: file, line: line)
            XCTAssertLessThanOrEqual(city.count, 24, file: file, line: line)
            if let unit = arguments["unit"] { XCTAssertTrue(["celsius", "fahrenheit"].contains(unit as? String ?? ""), text, file: file, line: line) }
            XCTAssertTrue(Set(arguments.keys).isSubset(of: ["city", "unit"]), text, file: file, line: line)
        case "get_time":
            let zone = try XCTUnwrap(arguments["zone"] as? String, text, file: file, line: line)
            XCTAssertNotNil(zone.range(of: "^[A-Z][a-z]{2,12}/[A-Z][a-z]{2,12}$", options: .regularExpression), zone, file: file, line: line)
            XCTAssertEqual(Array(arguments.keys), ["zone"], text, file: file, line: line)
        default:
            XCTFail("unknown tool \(name)", file: file, line: line)
        }
        return name
    }

    static func body(_ extra: [String: Any], prompt: String = "What is the weather in Paris right now?") -> [String: Any] {
        var body: [String: Any] = ["messages": [["role": "user", "content": prompt]], "tools": tools,
                                   "max_tokens": 120, "temperature": 0]
        body.merge(extra) { $1 }
        return body
    }

    /// The streamed events' choices[0] as a list of (delta, finish_reason).
    static func events(_ reply: RawHTTPClient.Reply) throws -> [(delta: [String: Any], finish: String?)] {
        try reply.text.split(separator: "\n").filter { $0.hasPrefix("data: {") }.compactMap { line in
            let event = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
            guard let choice = (event["choices"] as? [[String: Any]])?.first else { return nil }
            return (choice["delta"] as? [String: Any] ?? [:], choice["finish_reason"] as? String)
        }
    }

    func requiredAndNamedCalls(_ server: TestServer, seeds: Range<Int>) throws {
        for seed in seeds {
            let reply = try server.client.post("/v1/chat/completions", Self.body(["tool_choice": "required", "seed": seed,
                                                                                  "temperature": 0.8, "parallel_tool_calls": false]),
                                               headers: auth)
            XCTAssertEqual(reply.status, 200, reply.text)
            let choice = try XCTUnwrap((try reply.json()["choices"] as? [[String: Any]])?.first, reply.text)
            XCTAssertEqual(choice["finish_reason"] as? String, "tool_calls", reply.text)
            let message = try XCTUnwrap(choice["message"] as? [String: Any])
            let calls = try XCTUnwrap(message["tool_calls"] as? [[String: Any]], reply.text)
            XCTAssertEqual(calls.count, 1, reply.text)
            try Self.checkCall(calls[0])
        }
        let named = try server.client.post("/v1/chat/completions", Self.body([
            "tool_choice": ["type": "function", "function": ["name": "get_time"]]], prompt: "What time is it in Tokyo?"), headers: auth)
        XCTAssertEqual(named.status, 200, named.text)
        let choice = try XCTUnwrap((try named.json()["choices"] as? [[String: Any]])?.first, named.text)
        let calls = try XCTUnwrap((choice["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]], named.text)
        XCTAssertFalse(calls.isEmpty)
        for call in calls { XCTAssertEqual(try Self.checkCall(call), "get_time", named.text) }

        // Streamed: plain deltas (if any) first, then whole calls, then finish_reason tool_calls.
        let streamed = try server.client.post("/v1/chat/completions", Self.body(["tool_choice": "required", "stream": true,
                                                                                 "parallel_tool_calls": false]), headers: auth)
        XCTAssertEqual(streamed.status, 200, streamed.text)
        let events = try Self.events(streamed)
        let deltas = events.compactMap { $0.delta["tool_calls"] as? [[String: Any]] }.flatMap { $0 }
        XCTAssertEqual(deltas.count, 1, streamed.text)
        XCTAssertEqual(deltas.first?["index"] as? Int, 0)
        try Self.checkCall(try XCTUnwrap(deltas.first))
        XCTAssertEqual(events.last?.finish, "tool_calls", streamed.text)
        XCTAssertTrue(streamed.text.hasSuffix("data: [DONE]\n\n"))
    }

    func testToolCallsThroughTheHTTPLayer() throws {
        let server = try TestServer.shared.get()
        try requiredAndNamedCalls(server, seeds: 0..<3)

        // `none`: the tools are not used; a plain answer.
        let none = try server.client.post("/v1/chat/completions", Self.body(["tool_choice": "none", "max_tokens": 8]), headers: auth)
        XCTAssertEqual(none.status, 200, none.text)
        let noneChoice = try XCTUnwrap((try none.json()["choices"] as? [[String: Any]])?.first)
        XCTAssertNil((noneChoice["message"] as? [String: Any])?["tool_calls"], none.text)
        XCTAssertNotEqual(noneChoice["finish_reason"] as? String, "tool_calls")

        // Parallel calls allowed: every call is valid, however many there are.
        let parallel = try server.client.post("/v1/chat/completions", Self.body(["tool_choice": "required", "max_tokens": 200],
                                                                                prompt: "Weather in Paris and the time in Tokyo?"),
                                              headers: auth)
        XCTAssertEqual(parallel.status, 200, parallel.text)
        let parallelChoice = try XCTUnwrap((try parallel.json()["choices"] as? [[String: Any]])?.first)
        if parallelChoice["finish_reason"] as? String == "tool_calls" {
            for call in try XCTUnwrap((parallelChoice["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]]) {
                try Self.checkCall(call)
            }
        }

        // A call and its result go back through the template (SmolLM2's template concatenates
        // content, so the assistant message carries "" rather than null; Qwen's case sends null).
        let followUp = try server.client.post("/v1/chat/completions", Self.followUp(content: ""), headers: auth)
        XCTAssertEqual(followUp.status, 200, followUp.text)
    }

    static func followUp(content: Any) -> [String: Any] {
        ["messages": [["role": "user", "content": "Weather in Paris?"],
                      ["role": "assistant", "content": content, "tool_calls": [["id": "call_1", "type": "function",
                        "function": ["name": "get_weather", "arguments": "{\"city\":\"Paris\"}"]]]],
                      ["role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 21}"]],
         "tools": tools, "max_tokens": 4]
    }

    func testBadToolsAndChoicesAre400sNamingTheField() throws {
        let server = try TestServer.shared.get()
        let cases: [([String: Any], String)] = [
            (["tools": [["type": "function", "function": ["name": "bad name"]]]], "tools[0].function.name"),
            (["tools": [["type": "function", "function": ["name": "f", "parameters": "x"]]]], "tools[0].function.parameters"),
            (["tool_choice": ["type": "function", "function": ["name": "missing"]]], "tool_choice.function.name"),
            (["tool_choice": "always"], "tool_choice"),
            (["tool_choice": "required", "tools": [["type": "function", "function": ["name": "f", "parameters": [
                "type": "object", "properties": ["n": ["type": "integer", "minimum": 0]]]]]]], "tools[0].function.parameters"),
            (["tool_choice": "required", "response_format": ["type": "json_object"]], "tool_choice"),
            (["parallel_tool_calls": 1], "parallel_tool_calls"),
        ]
        for (extra, field) in cases {
            let reply = try server.client.post("/v1/chat/completions", Self.body(extra), headers: auth)
            XCTAssertEqual(reply.status, 400, "\(extra): \(reply.text)")
            let param = ((try? reply.json())?["error"] as? [String: Any])?["param"] as? String ?? ""
            XCTAssertTrue(param.hasPrefix(field), "\(extra): \(reply.text)")
        }
    }

    /// End to end with the Qwen2.5 test model (Hermes-style template): required and named
    /// calls parse into valid calls, streamed or not.
    func testQwenToolCallsEndToEnd() throws {
        let server = try TestServer(configuration: ServerConfiguration(port: 0, apiKey: TestServer.apiKey, parallel: 1,
                                                                       contextLength: 1024, threads: 2, queueLimit: 4),
                                    model: "qwen2.5-0.5b")
        defer { let done = DispatchSemaphore(value: 0); Task { await server.stop(); done.signal() }; done.wait() }
        try requiredAndNamedCalls(server, seeds: 0..<2)
        // Auto: the model decides; whatever calls it makes must parse into valid ones.
        let auto = try server.client.post("/v1/chat/completions", Self.body([:]), headers: auth)
        XCTAssertEqual(auto.status, 200, auto.text)
        let choice = try XCTUnwrap((try auto.json()["choices"] as? [[String: Any]])?.first)
        let message = try XCTUnwrap(choice["message"] as? [String: Any])
        if let calls = message["tool_calls"] as? [[String: Any]] {
            XCTAssertEqual(choice["finish_reason"] as? String, "tool_calls")
            for call in calls { try Self.checkCall(call) }
            XCTAssertFalse((message["content"] as? String ?? "").contains("<tool_call>"), auto.text)
        }
        let followUp = try server.client.post("/v1/chat/completions", Self.followUp(content: NSNull()), headers: auth)
        XCTAssertEqual(followUp.status, 200, followUp.text)
    }
}
