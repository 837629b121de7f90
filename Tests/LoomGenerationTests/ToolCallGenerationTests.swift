import Foundation
import LoomHub
import LoomJinja
import LoomModels
import XCTest
@testable import LoomGeneration

/// Tool calls end to end with the Qwen2.5 test model through the Swift API (run in release):
/// a required or named call parses into a call whose arguments the tool's schema accepts.
final class ToolCallGenerationTests: XCTestCase {
    static let tools = #"""
    [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                     "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"], "additionalProperties": false}}},
     {"type": "function", "function": {"name": "convert_currency", "description": "Convert an amount between currencies",
      "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                     "to": {"type": "string", "pattern": "^[A-Z]{3}$"}}, "required": ["amount", "from", "to"], "additionalProperties": false}}}]
    """#

    func testQwenRequiredAndNamedCallsValidate() async throws {
        let llm = try await LLM.load("qwen2.5-0.5b", contextLength: 1024, threads: 2)
        XCTAssertEqual(llm.toolCallFormat, .hermes)
        let tools = try ToolDefinition.list(fromJSON: Data(Self.tools.utf8))
        let schemas = Dictionary(uniqueKeysWithValues: try tools.map { ($0.name, try JSONSchemaGrammar.grammar(for: $0.parameters)) })
        let questions = ["What's the weather like in Lisbon?", "How much is 120 US dollars in euros?"]
        for (question, choice) in [(questions[0], ToolChoice.required), (questions[1], .required), (questions[0], .function("convert_currency"))] {
            var options = GenerationOptions(maxTokens: 120)
            options.sampling.temperature = 0
            let reply = try await llm.respond(to: [.user(question)], tools: tools, choice: choice, parallel: false, options: options)
            XCTAssertEqual(reply.toolCalls.count, 1, "\(question): \(reply)")
            let call = try XCTUnwrap(reply.toolCalls.first)
            if case let .function(name) = choice { XCTAssertEqual(call.name, name) }
            let grammar = try XCTUnwrap(schemas[call.name], call.name)
            // Compact arguments text is a document of the schema's language.
            XCTAssertTrue(GrammarMatcher(grammar: grammar).matches(call.arguments), "\(call.name): \(call.arguments)")
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(call.arguments.utf8)) as? [String: Any])
            if call.name == "get_weather" {
                XCTAssertEqual(Set(object.keys), ["city", "unit"], call.arguments)
            } else {
                XCTAssertNotNil(object["amount"] as? NSNumber, call.arguments)
            }
            XCTAssertTrue(call.id?.hasPrefix("call_") ?? false)
        }
        // The call and its result go back through the template, and the model answers (auto).
        let first = try await llm.respond(to: [.user(questions[0])], tools: tools, choice: .function("get_weather"), parallel: false,
                                          options: GenerationOptions(maxTokens: 80))
        let call = try XCTUnwrap(first.toolCalls.first)
        let followUp: [ChatMessage] = [.user(questions[0]), first.message,
                                       ChatMessage(role: "tool", content: #"{"temperature": 19, "sky": "sunny"}"#,
                                                   toolCallID: call.id, name: call.name)]
        let prompt = try llm.prompt(for: followUp, tools: ToolDefinition.templateJSON(tools))
        XCTAssertTrue(prompt.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "), prompt)
        XCTAssertTrue(prompt.hasSuffix("<|im_start|>user\n<tool_response>\n{\"temperature\": 19, \"sky\": \"sunny\"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"), prompt)
        _ = try await llm.respond(to: followUp, tools: tools, choice: .auto, options: GenerationOptions(maxTokens: 16))
    }
}
