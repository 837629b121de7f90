import Foundation
import XCTest
@testable import LoomGeneration

/// Reading conversations from JSON (OpenAI and HF shapes) and handing them to templates.
final class ChatMessageTests: XCTestCase {
    func testOpenAIShapeWithToolCallsAndContentParts() throws {
        let json = """
        {"messages": [
          {"role": "system", "content": "Be brief."},
          {"role": "user", "content": [{"type": "text", "text": "Weather in "}, {"type": "text", "text": "Paris?"}]},
          {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]},
          {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "18 C"}
        ]}
        """
        let messages = try ChatMessage.conversation(fromJSON: Data(json.utf8))
        XCTAssertEqual(messages.count, 4)
        XCTAssertEqual(messages[1].content, "Weather in Paris?")
        XCTAssertNil(messages[2].content)
        XCTAssertEqual(messages[2].toolCalls, [.init(id: "call_1", name: "get_weather", arguments: "{\"city\": \"Paris\"}")])
        XCTAssertEqual(messages[3].toolCallID, "call_1")

        // Templates get the arguments as an object, as HF's templates expect.
        let object = messages[2].templateObject
        let calls = try XCTUnwrap(object["tool_calls"] as? [[String: Any]])
        let function = try XCTUnwrap(calls.first?["function"] as? [String: Any])
        XCTAssertEqual((function["arguments"] as? [String: Any])?["city"] as? String, "Paris")
        XCTAssertTrue(object["content"] is NSNull)
    }

    func testHFShapeWithObjectArguments() throws {
        let json = #"[{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}]"#
        let messages = try ChatMessage.conversation(fromJSON: Data(json.utf8))
        XCTAssertEqual(messages[0].toolCalls?.first?.arguments, #"{"x":1}"#)
    }

    func testErrorsNameTheProblem() {
        func error(_ json: String) -> String {
            do {
                _ = try ChatMessage.conversation(fromJSON: Data(json.utf8))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(error("{").contains("not valid JSON"))
        XCTAssertTrue(error(#"{"msgs": []}"#).contains("\"messages\" array"))
        XCTAssertTrue(error(#"[{"role": 3, "content": "x"}]"#).contains("messages[0].role"))
        XCTAssertTrue(error(#"[{"role": "user", "content": 3}]"#).contains("messages[0].content"))
        XCTAssertTrue(error(#"[{"role": "user", "content": [{"type": "image_url"}]}]"#).contains("messages[0].content[0]"))
        XCTAssertTrue(error(#"[{"role": "assistant", "tool_calls": [{"function": {}}]}]"#).contains("tool_calls[0].function.name"))
        XCTAssertTrue(error(#"[{"role": "tool", "content": "x", "tool_call_id": 5}]"#).contains("messages[0].tool_call_id"))
    }

    func testCodableRoundTripUsesOpenAIKeys() throws {
        let message = ChatMessage(role: "tool", content: "ok", toolCallID: "c1", name: "f")
        let data = try JSONEncoder().encode(message)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"tool_call_id\""))
        XCTAssertEqual(try JSONDecoder().decode(ChatMessage.self, from: data), message)
    }
}
