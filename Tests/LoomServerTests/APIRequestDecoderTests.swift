import Foundation
import XCTest
@testable import LoomServer

/// The pure request decoding (bytes → typed request or APIError) that the handlers and the
/// fuzz harness share: no model involved.
final class APIRequestDecoderTests: XCTestCase {
    func testDecodesChatAndCompletionBodies() throws {
        let chat = try APIRequestDecoder.chatCompletion(Data("""
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": true,
             "temperature": 0.5, "logprobs": true, "top_logprobs": 2,
             "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}
            """.utf8), vocabularySize: 100)
        XCTAssertEqual(chat.model, "m")
        XCTAssertEqual(chat.messages.count, 1)
        XCTAssertEqual(chat.generation.requestedMaxTokens, 5)
        XCTAssertEqual(chat.generation.options.maxTokens, 5)
        XCTAssertTrue(chat.generation.stream)
        XCTAssertEqual(chat.generation.logprobs, 2)
        XCTAssertEqual(chat.tools.map(\.name), ["f"])
        XCTAssertEqual(chat.toolChoice, .auto)
        XCTAssertTrue(chat.usesTools)
        XCTAssertTrue(chat.parallelToolCalls)
        let noLength = try APIRequestDecoder.chatCompletion(Data(#"{"messages": [{"role": "user", "content": "x"}]}"#.utf8), vocabularySize: 100)
        XCTAssertNil(noLength.generation.requestedMaxTokens)

        let completion = try APIRequestDecoder.completion(Data(#"{"prompt": [[1, 2], [3]], "echo": true, "n": 2}"#.utf8), vocabularySize: 100)
        XCTAssertEqual(completion.prompts, [.tokens([1, 2]), .tokens([3])])
        XCTAssertTrue(completion.echo)
        XCTAssertEqual(completion.generation.n, 2)
        XCTAssertEqual(completion.generation.options.maxTokens, 16)
        XCTAssertEqual(try APIRequestDecoder.completion(Data(#"{"prompt": ["a", "b"]}"#.utf8), vocabularySize: 1).prompts,
                       [.text("a"), .text("b")])
    }

    /// Every malformed body is an APIError (400) naming the problem, never another error or a crash.
    func testBadBodiesAreAPIErrors() {
        let bodies: [(String, String?)] = [
            ("", nil), ("{", nil), ("[]", nil), ("null", nil), ("\u{FF}\u{FE}", nil),
            (#"{"messages": "hi"}"#, "messages"), (#"{"messages": []}"#, "messages"),
            (#"{"messages": [{"content": "x"}]}"#, "messages"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tools": 3}"#, "tools"),
            (#"{"messages": [{"role": "user", "content": "x"}], "n": 17}"#, "n"),
            (#"{"messages": [{"role": "user", "content": "x"}], "logit_bias": {"100": 1}}"#, "logit_bias.100"),
            (#"{"messages": [{"role": "user", "content": "x"}], "logit_bias": [[100, 1]]}"#, "logit_bias[0]"),
            (#"{"messages": [{"role": "user", "content": "x"}], "logit_bias": 3}"#, "logit_bias"),
            (#"{"messages": [{"role": "user", "content": "x"}], "mirostat": 2}"#, "mirostat"),
            (#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e300}"#, "max_tokens"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}"#, "tools[0].function"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "a b"}}]}"#, "tools[0].function.name"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "code", "function": {"name": "a"}}]}"#, "tools[0].type"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}"#, "tool_choice"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tool_choice": "maybe", "tools": [{"type": "function", "function": {"name": "a"}}]}"#, "tool_choice"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function", "function": {"name": "b"}}, "tools": [{"type": "function", "function": {"name": "a"}}]}"#, "tool_choice.function.name"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "a"}}], "response_format": {"type": "json_object"}}"#, "tool_choice"),
            (#"{"messages": [{"role": "user", "content": "x"}], "parallel_tool_calls": "no"}"#, "parallel_tool_calls"),
        ]
        for (body, param) in bodies {
            XCTAssertThrowsError(try APIRequestDecoder.chatCompletion(Data(body.utf8), vocabularySize: 100), body) { error in
                guard let api = error as? APIError else { return XCTFail("\(body): \(type(of: error)) \(error)") }
                XCTAssertEqual(api.status.code, 400, body)
                if let param { XCTAssertEqual(api.param, param, body) }
            }
        }
        // Invalid JSON that Foundation's JSONSerialization accepts, and nesting deep enough to
        // exhaust a recursive parser's stack: named 400s.
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        for body in [#"{"prompt": "x",}"#, #"{"prompt": "x"} x"#, "{\"prompt\": [\(deep)]}"] {
            XCTAssertThrowsError(try APIRequestDecoder.completion(Data(body.utf8), vocabularySize: 100), String(body.prefix(40))) { error in
                XCTAssertEqual((error as? APIError)?.code, "invalid_json", "\(error)")
            }
        }
        for body in [#"{}"#, #"{"prompt": []}"#, #"{"prompt": [100]}"#, #"{"prompt": [-1]}"#, #"{"prompt": [[1], "a"]}"#,
                     #"{"prompt": {"a": 1}}"#, #"{"prompt": "x", "echo": 1}"#, #"{"prompt": [1.5]}"#] {
            XCTAssertThrowsError(try APIRequestDecoder.completion(Data(body.utf8), vocabularySize: 100), body) { error in
                XCTAssertEqual((error as? APIError)?.status.code, 400, "\(body): \(error)")
            }
        }
    }
}
