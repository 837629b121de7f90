import Foundation
import XCTest
@testable import LoomJinja

/// Rendering cost: a 50-message tool conversation with Qwen2.5's template must stay far below
/// the cost of prompt processing (target: well under 10 ms in release builds).
final class ChatTemplatePerformanceTests: XCTestCase {
    func testQwenToolConversationRenders() throws {
        let fixture = try ChatTemplateParityTests.loadFixture("chat_templates")
        guard case .array(let templates)? = fixture["templates"],
              let qwen = templates.first(where: { $0["name"] == "qwen2.5" }),
              case .string(let source)? = qwen["source"] else {
            return XCTFail("qwen2.5 template missing from fixture")
        }
        let template = try ChatTemplate(source: source)
        let tools = try JinjaValue(jsonString: """
        [{"type": "function", "function": {"name": "get_current_weather", "description": "Get the current weather",
          "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "City"},
          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}},
         {"type": "function", "function": {"name": "search", "description": "Search the web",
          "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]
        """)
        guard case .array(let toolList) = tools else { return XCTFail("tools") }
        var messages: [JinjaValue] = [["role": "system", "content": "You are a helpful assistant."]]
        for i in 0..<49 {
            switch i % 4 {
            case 0: messages.append(["role": "user", "content": .string("Question \(i): what is the weather like in city number \(i)? Please be detailed.")])
            case 1: messages.append(["role": "assistant", "content": nil, "tool_calls": [["type": "function", "function": [
                "name": "get_current_weather", "arguments": ["location": .string("City \(i)"), "unit": "celsius"]]]]])
            case 2: messages.append(["role": "tool", "content": .string("{\"temperature\": \(i), \"condition\": \"cloudy\"}")])
            default: messages.append(["role": "assistant", "content": .string(String(repeating: "It is cloudy and mild today. ", count: 8))])
            }
        }
        XCTAssertEqual(messages.count, 50)
        var times: [Double] = []
        var output = ""
        for _ in 0..<21 {
            let start = DispatchTime.now().uptimeNanoseconds
            output = try template.render(messages: messages, tools: toolList, addGenerationPrompt: true)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        let median = times[times.count / 2]
        XCTAssertTrue(output.hasPrefix("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools"))
        XCTAssertTrue(output.hasSuffix("<|im_start|>assistant\n"))
        print(String(format: "qwen2.5 tools template, 50 messages (%d bytes): median %.3f ms, min %.3f ms", output.utf8.count, median, times[0]))
        let parseStart = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<10 { _ = try ChatTemplate(source: source) }
        print(String(format: "qwen2.5 template parse: %.3f ms", Double(DispatchTime.now().uptimeNanoseconds - parseStart) / 1e7))
    }
}
