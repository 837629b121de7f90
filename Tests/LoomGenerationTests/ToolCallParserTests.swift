import Foundation
import LoomJinja
import XCTest
@testable import LoomGeneration

/// Tool-call parsing per family from recorded replies (Fixtures/tool_calls.json), family
/// detection from the real chat templates, ids, streaming, and the grammars that enforce
/// `tool_choice`.
final class ToolCallParserTests: XCTestCase {
    static func fixture(_ name: String) throws -> Data {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try Data(contentsOf: url)
    }

    static func template(_ file: String) throws -> String {
        String(decoding: try fixture("chat_templates/\(file).jinja"), as: UTF8.self)
    }

    static func tools(_ names: [String]) -> [ToolDefinition] {
        let json = "[" + names.map { #"{"type": "function", "function": {"name": "\#($0)"}}"# }.joined(separator: ",") + "]"
        return try! ToolDefinition.list(fromJSON: Data(json.utf8))
    }

    struct Case: Decodable {
        struct Call: Decodable, Equatable {
            let name: String
            let arguments: String
            let id: String?
        }
        let name: String
        let format: String
        let tools: [String]?
        let text: String
        let content: String
        let calls: [Call]
        let max_calls: Int?
    }

    func testRecordedRepliesOfEachFamily() throws {
        let cases = try JSONDecoder().decode([Case].self, from: try Self.fixture("tool_calls.json"))
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for format in ToolCallFormat.allCases {
            XCTAssertTrue(cases.contains { $0.format == format.rawValue }, "no fixture for \(format)")
        }
        for c in cases {
            let format = try XCTUnwrap(ToolCallFormat(rawValue: c.format), c.name)
            let parser = ToolCallParser(format: format, tools: c.tools.map(Self.tools), maximumCalls: c.max_calls ?? .max)
            var counter = 0
            let result = parser.parse(c.text, makeID: { counter += 1; return "id\(counter)" })
            XCTAssertEqual(result.content, c.content, c.name)
            XCTAssertEqual(result.toolCalls.map(\.name), c.calls.map(\.name), c.name)
            XCTAssertEqual(result.toolCalls.map(\.arguments), c.calls.map(\.arguments), c.name)
            for (i, call) in result.toolCalls.enumerated() {
                XCTAssertEqual(call.id, c.calls[i].id ?? "id\(i + 1 - c.calls[..<i].filter { $0.id != nil }.count)", c.name)
            }
        }
    }

    func testFamilyDetectedFromTheRealTemplates() throws {
        let expected: [(String, ToolCallFormat)] = [
            ("Qwen-Qwen2.5-7B-Instruct", .hermes),
            ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", .hermes),
            ("meta-llama-Llama-3.1-8B-Instruct", .llama3),
            ("meta-llama-Llama-3.2-3B-Instruct", .llama3),
            ("mistralai-Mistral-Nemo-Instruct-2407", .mistral),
            ("google-gemma-2-2b-it", .generic),
        ]
        for (file, format) in expected {
            XCTAssertEqual(ToolCallFormat.detect(chatTemplate: try Self.template(file)), format, file)
        }
    }

    func testCallIDsHaveEachFamilysShape() {
        var seen: Set<String> = []
        for _ in 0..<50 {
            let mistral = ToolCallFormat.mistral.makeCallID()
            XCTAssertEqual(mistral.count, 9)
            XCTAssertTrue(mistral.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }, mistral)
            let openAI = ToolCallFormat.hermes.makeCallID()
            XCTAssertTrue(openAI.hasPrefix("call_") && openAI.count == 29, openAI)
            seen.insert(openAI)
        }
        XCTAssertEqual(seen.count, 50, "ids repeat")
    }

    /// Streaming in pieces of every size gives the same content and calls as parsing the
    /// whole reply, and plain text before a call is released before the reply ends.
    func testStreamingHoldsOnlyWhatMayBeACall() throws {
        let cases = try JSONDecoder().decode([Case].self, from: try Self.fixture("tool_calls.json"))
        for c in cases where c.max_calls == nil {
            let parser = ToolCallParser(format: ToolCallFormat(rawValue: c.format)!, tools: c.tools.map(Self.tools))
            for size in [1, 2, 3, 7, 1000] {
                var stream = ToolCallStream(parser: parser)
                var shown = ""
                var index = c.text.startIndex
                while index < c.text.endIndex {
                    let end = c.text.index(index, offsetBy: size, limitedBy: c.text.endIndex) ?? c.text.endIndex
                    shown += stream.append(String(c.text[index..<end]))
                    index = end
                }
                let end = stream.finish(makeID: { "x" })
                XCTAssertEqual(end.toolCalls.map(\.name), c.calls.map(\.name), "\(c.name) / \(size)")
                XCTAssertEqual(end.toolCalls.map(\.arguments), c.calls.map(\.arguments), "\(c.name) / \(size)")
                let whole = shown + end.content
                if c.calls.isEmpty {
                    XCTAssertEqual(whole, c.text, "\(c.name) / \(size)")
                } else {
                    XCTAssertEqual(whole.trimmingCharacters(in: .whitespacesAndNewlines), c.content, "\(c.name) / \(size)")
                }
            }
        }
        // The text before a Qwen call is streamed as it comes; the call is held.
        var stream = ToolCallStream(parser: ToolCallParser(format: .hermes))
        XCTAssertEqual(stream.append("Checking"), "Checking")
        XCTAssertEqual(stream.append(" now.\n<tool"), " now.\n")
        XCTAssertEqual(stream.append("_call>\n{\"name\": \"f\", "), "")
        XCTAssertEqual(stream.append("\"arguments\": {}}\n</tool_call>"), "")
        let end = stream.finish(makeID: { "c1" })
        XCTAssertEqual(end.toolCalls, [ChatMessage.ToolCall(id: "c1", name: "f", arguments: "{}")])
        XCTAssertEqual(end.content, "")
        // A `<` that does not grow into the marker is released with the next piece.
        var plain = ToolCallStream(parser: ToolCallParser(format: .hermes))
        XCTAssertEqual(plain.append("a <"), "a ")
        XCTAssertEqual(plain.append("b"), "<b")
        XCTAssertEqual(plain.finish().content, "")
    }

    func testToolDefinitionsAndChoicesAreChecked() throws {
        func toolError(_ json: String) -> ToolCallError? {
            do { _ = try ToolDefinition.list(fromJSON: Data(json.utf8)); return nil } catch { return error as? ToolCallError }
        }
        XCTAssertEqual(toolError(#"{"type": "function"}"#)?.field, "tools")
        XCTAssertEqual(toolError(#"[{"type": "retrieval"}]"#)?.field, "tools[0].type")
        XCTAssertEqual(toolError(#"[{"type": "function"}]"#)?.field, "tools[0].function")
        XCTAssertEqual(toolError(#"[{"type": "function", "function": {"name": "bad name"}}]"#)?.field, "tools[0].function.name")
        XCTAssertEqual(toolError(#"[{"type": "function", "function": {"name": "f", "parameters": [1]}}]"#)?.field, "tools[0].function.parameters")
        XCTAssertEqual(toolError(#"[{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]"#)?.field,
                       "tools[1].function.name")
        let tools = Self.tools(["get_weather", "search"])
        XCTAssertEqual(try ToolChoice.parse(nil, tools: tools), .auto)
        XCTAssertEqual(try ToolChoice.parse(nil, tools: []), ToolChoice.none)
        XCTAssertEqual(try ToolChoice.parse(.string("required"), tools: tools), .required)
        let named = try JSONParser.parse(Array(#"{"type": "function", "function": {"name": "search"}}"#.utf8))
        XCTAssertEqual(try ToolChoice.parse(named, tools: tools), .function("search"))
        for (json, field) in [(#""sometimes""#, "tool_choice"), (#"{"type": "function", "function": {"name": "nope"}}"#, "tool_choice.function.name"),
                              (#"{"type": "tool"}"#, "tool_choice.type"), ("3", "tool_choice")] {
            XCTAssertThrowsError(try ToolChoice.parse(try JSONParser.parse(Array(json.utf8)), tools: tools), json) { error in
                XCTAssertEqual((error as? ToolCallError)?.field, field, json)
            }
        }
        XCTAssertThrowsError(try ToolChoice.parse(.string("required"), tools: [])) { error in
            XCTAssertEqual((error as? ToolCallError)?.field, "tool_choice")
        }
    }

    static let weatherTools = #"""
    [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
                     "required": ["city"], "additionalProperties": false}}},
     {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"$ref": "#/$defs/zone"}},
                     "required": ["zone"], "$defs": {"zone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}}}}}]
    """#

    /// The enforcing grammars accept exactly calls in the family's syntax to an allowed tool
    /// with schema-valid arguments, and what they accept parses back into those calls.
    func testGrammarsEnforceCallsInEachFamilysSyntax() throws {
        let tools = try ToolDefinition.list(fromJSON: Data(Self.weatherTools.utf8))
        let paris = #"{"name": "get_weather", "ARGS": {"city": "Paris", "unit": "celsius"}}"#
        let time = #"{"name": "get_time", "ARGS": {"zone": "Europe/Paris"}}"#
        let badUnit = #"{"name": "get_weather", "ARGS": {"city": "Paris", "unit": "kelvin"}}"#
        let missing = #"{"name": "get_weather", "ARGS": {"unit": "celsius"}}"#
        let unknown = #"{"name": "get_news", "ARGS": {}}"#
        let badZone = #"{"name": "get_time", "ARGS": {"zone": "paris"}}"#
        for format in ToolCallFormat.allCases {
            func call(_ template: String) -> String { template.replacingOccurrences(of: "ARGS", with: format.argumentsKey) }
            func wrap(_ calls: [String]) -> String {
                switch format {
                case .hermes: return calls.map { "<tool_call>\n\(call($0))\n</tool_call>" }.joined(separator: "\n")
                case .llama3: return calls.map(call).joined(separator: "; ")
                case .mistral: return "[" + calls.map(call).joined(separator: ", ") + "]"
                case .generic: return calls.count == 1 ? call(calls[0]) : "[" + calls.map(call).joined(separator: ", ") + "]"
                }
            }
            let any = try ToolCallGrammar.grammar(format: format, tools: tools, parallel: true)
            let single = try ToolCallGrammar.grammar(format: format, tools: tools, parallel: false)
            let named = try ToolCallGrammar.grammar(format: format, tools: tools, only: "get_time")
            let parser = ToolCallParser(format: format, tools: tools)
            for text in [wrap([paris]), wrap([time])] {
                XCTAssertTrue(GrammarMatcher(grammar: any).matches(text), "\(format): \(text)")
                XCTAssertTrue(GrammarMatcher(grammar: single).matches(text), "\(format): \(text)")
                XCTAssertFalse(parser.parse(text).toolCalls.isEmpty, "\(format): \(text)")
            }
            XCTAssertTrue(GrammarMatcher(grammar: named).matches(wrap([time])), "\(format)")
            XCTAssertFalse(GrammarMatcher(grammar: named).matches(wrap([paris])), "\(format)")
            for bad in [badUnit, missing, unknown, badZone] {
                XCTAssertFalse(GrammarMatcher(grammar: any).matches(wrap([bad])), "\(format): \(bad)")
            }
            XCTAssertFalse(GrammarMatcher(grammar: any).matches("The weather is fine."), "\(format)")
            let two = wrap([paris, time])
            if format != .llama3 {
                XCTAssertTrue(GrammarMatcher(grammar: any).matches(two), "\(format): \(two)")
                XCTAssertEqual(parser.parse(two).toolCalls.map(\.name), ["get_weather", "get_time"], "\(format)")
            }
            XCTAssertFalse(GrammarMatcher(grammar: single).matches(two), "\(format): \(two)")
            XCTAssertFalse(GrammarMatcher(grammar: named).matches(wrap([time, time])), "\(format): a named function is called once")
        }
        // A schema the compiler cannot take is named by its place in the request.
        let unsupported = try ToolDefinition.list(fromJSON: Data(#"""
            [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}}]
            """#.utf8))
        XCTAssertThrowsError(try ToolCallGrammar.grammar(format: .hermes, tools: unsupported)) { error in
            let error = error as? ToolCallError
            XCTAssertTrue(error?.field.hasPrefix("tools[0].function.parameters") ?? false, "\(String(describing: error))")
            XCTAssertTrue(error?.message.contains("minimum") ?? false, "\(String(describing: error))")
        }
    }

    /// Assistant calls and tool results go back through the Qwen2.5 template the way its
    /// Hugging Face tokenizer renders them (`apply_chat_template` with the same messages).
    func testCallsAndResultsRenderThroughTheTemplate() throws {
        let formatter = try ChatFormatter(templateSource: try Self.template("Qwen-Qwen2.5-7B-Instruct"), bosToken: "", eosToken: "<|im_end|>")
        let reply = ToolCallParser(format: .hermes).parse(
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", makeID: { "call_1" })
        let conversation: [ChatMessage] = [
            .user("Weather in Paris?"),
            reply.message,
            ChatMessage(role: "tool", content: "{\"temperature\": 21}", toolCallID: "call_1", name: "get_weather"),
        ]
        XCTAssertNil(reply.message.content)
        let text = try formatter.render(conversation, addGenerationPrompt: true)
        XCTAssertEqual(text, """
            <|im_start|>system
            You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>
            <|im_start|>user
            Weather in Paris?<|im_end|>
            <|im_start|>assistant
            <tool_call>
            {"name": "get_weather", "arguments": {"city": "Paris"}}
            </tool_call><|im_end|>
            <|im_start|>user
            <tool_response>
            {"temperature": 21}
            </tool_response><|im_end|>
            <|im_start|>assistant

            """)
    }
}
