import Foundation
import XCTest

/// `loom chat` and `loom template` as a user runs them (non-interactive paths; the
/// interactive loop is checked through a pty, see the issue note).
extension CLITests {
    func testChatOneShotAnswersAndReportsStats() throws {
        let r = try loom("chat", "-p", "What is the capital of France?", "--temperature", "0", "--top-k", "-1",
                         "--top-p", "1", "--max-tokens", "24", "--stats")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Paris"), r.stdout)
        XCTAssertFalse(r.stdout.contains("<|im_end|>"), r.stdout)
        XCTAssertTrue(r.stderr.contains("time to first token"), r.stderr)
        XCTAssertTrue(r.stderr.contains("tokens/s"), r.stderr)
    }

    func testChatReadsAJSONConversationFromStandardInput() throws {
        let conversation = """
        {"messages": [{"role": "user", "content": "My name is Ada."},
                      {"role": "assistant", "content": "Nice to meet you, Ada!"},
                      {"role": "user", "content": "What is my name?"}]}
        """
        let r = try loom(["chat", "--temperature", "0", "--max-tokens", "16"], stdin: conversation)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Ada"), r.stdout)
    }

    func testChatRejectsBadConversationsAndOverlongPrompts() throws {
        let bad = try loom(["chat", "--max-tokens", "4"], stdin: "{\"messages\": [{\"content\": \"hi\"}]}")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("messages[0].role"), bad.stderr)

        let notJSON = try loom(["chat", "--max-tokens", "4"], stdin: "hello there")
        XCTAssertNotEqual(notJSON.status, 0)
        XCTAssertTrue(notJSON.stderr.contains("not valid JSON"), notJSON.stderr)

        let long = try loom("chat", "-p", String(repeating: "word ", count: 100), "--ctx", "32")
        XCTAssertNotEqual(long.status, 0)
        XCTAssertTrue(long.stderr.contains("the context holds 32"), long.stderr)

        let date = try loom("chat", "-p", "hi", "--date", "yesterday")
        XCTAssertNotEqual(date.status, 0)
        XCTAssertTrue(date.stderr.contains("--date"), date.stderr)
    }

    func testTemplatePrintsTheRenderedPromptExactly() throws {
        let messages = "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}]"
        let r = try loom(["template", "--messages", "-", "--add-generation-prompt"], stdin: messages)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    func testTemplateOverrideFromAFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loom-test-template.jinja")
        try "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
            .write(to: file, atomically: true, encoding: .utf8)
        let r = try loom(["template", "--template", file.path, "--messages", "-", "--add-generation-prompt"],
                         stdin: "[{\"role\": \"user\", \"content\": \"Hi\"}]")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "[user] Hi\n[assistant]")
    }

    func testTemplateErrorsNameTheLine() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loom-bad-template.jinja")
        try "line one\n{% for m in messages %}\n{{ m.content | nosuchfilter }}\n{% endfor %}".write(to: file, atomically: true, encoding: .utf8)
        let r = try loom(["template", "--template", file.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("line 3"), r.stderr)
        XCTAssertTrue(r.stderr.contains("nosuchfilter"), r.stderr)
    }

    func testTokenizeWithAHuggingFaceTokenizer() throws {
        let r = try loom("tokenize", "--tokenizer", "llama3-tokenizer", "--json", "Hello world")
        XCTAssertEqual(r.status, 0, r.stderr)
        let items = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        // Ids from the `tokenizers` package (see Tests/LoomTokenizerTests/Fixtures/hf_tokenizer_llama3.json).
        XCTAssertEqual(items.compactMap { $0["id"] as? Int }, [9906, 1917])
    }
}
