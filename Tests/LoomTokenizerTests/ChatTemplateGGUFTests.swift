import Foundation
import XCTest
import LoomFormats
import LoomJinja
@testable import LoomTokenizer

/// `ChatTemplate(gguf:)`: the template a GGUF file carries, against the source the parity
/// fixture's Python generator read from the same file.
final class ChatTemplateGGUFTests: XCTestCase {
    /// The parity fixture lives with the Jinja tests (LoomJinjaTests); it is read from the
    /// source tree rather than copied into this bundle.
    static let chatTemplatesFixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LoomJinjaTests/Fixtures/chat_templates.json")

    func testTemplateFromGGUFMetadataMatchesFixtureSource() throws {
        let gguf = try GGUFFile(path: TestModels.path(TestModels.smolLM2))
        guard let template = try ChatTemplate(gguf: gguf) else { return XCTFail("SmolLM2 GGUF has no tokenizer.chat_template") }
        XCTAssertNil(try ChatTemplate(gguf: gguf, name: "no_such_variant"))
        // The parity fixture's SmolLM2 template was read from this file by the Python generator.
        let fixture = try JinjaValue(jsonData: Data(contentsOf: Self.chatTemplatesFixture))
        guard case .array(let templates)? = fixture["templates"],
              let smol = templates.first(where: { $0["name"] == "smollm2" }) else { return XCTFail("fixture lacks smollm2") }
        XCTAssertEqual(smol["source"], .string(template.source))
        let qwenGGUF = try GGUFFile(path: TestModels.path(TestModels.qwenCoder))
        let qwen = try XCTUnwrap(try ChatTemplate(gguf: qwenGGUF))
        XCTAssertEqual(templates.first(where: { $0["name"] == "qwen2.5" })?["source"], .string(qwen.source))
        XCTAssertEqual(try template.render(messages: [.message(role: "user", content: "Hi")], addGenerationPrompt: true),
                       "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                       + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }
}
