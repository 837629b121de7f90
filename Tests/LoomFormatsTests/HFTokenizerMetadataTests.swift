import Foundation
import XCTest
@testable import LoomFormats

/// HFTokenizerMetadata reading small hand-written tokenizer.json / tokenizer_config.json
/// files (the GGUF transcription the HF → GGUF converter writes).
final class HFTokenizerMetadataTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "hf-tokenizer-metadata-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }

    /// A byte-level BPE tokenizer.json with the given `vocab`, `merges` and `added_tokens` JSON.
    private func tokenizer(vocab: String = #"{"a": 0, "b": 1, "ab": 2}"#, merges: String = #"["a b"]"#,
                           added: String = #"[{"id": 4, "content": "<|end|>", "special": true}, {"id": 3, "content": "<user>", "special": false}]"#) -> String {
        #"{"version": "1.0", "added_tokens": \#(added), "model": {"type": "BPE", "vocab": \#(vocab), "merges": \#(merges)}}"#
    }

    private func assertRejected(field: String?, _ text: String, line: UInt = #line) {
        XCTAssertThrowsError(try HFTokenizerMetadata(directory: directory), line: line) { error in
            guard let e = error as? HFConfigError else { return XCTFail("\(error)", line: line) }
            XCTAssertEqual(e.field, field, "\(e)", line: line)
            XCTAssertTrue(e.reason.contains(text), "\(e)", line: line)
        }
    }

    func testReadsTokensTypesMergesAndConfig() throws {
        try write("tokenizer.json", tokenizer(merges: #"["a b", ["ab", "b"]]"#))
        try write("tokenizer_config.json", #"""
            {"bos_token": null, "eos_token": {"content": "<|end|>", "lstrip": false}, "pad_token": "<user>",
             "add_bos_token": false, "chat_template": "{{ messages }}"}
            """#)
        let t = try HFTokenizerMetadata(directory: directory)
        XCTAssertEqual(t.tokens, ["a", "b", "ab", "<user>", "<|end|>"])
        // NORMAL for the vocabulary, USER_DEFINED for a non-special added token, CONTROL for a special one.
        XCTAssertEqual(t.tokenTypes, [1, 1, 1, 4, 3])
        XCTAssertEqual(t.merges, ["a b", "ab b"])
        XCTAssertNil(t.bosTokenId)
        XCTAssertEqual(t.eosTokenId, 4)
        XCTAssertEqual(t.padTokenId, 3)
        XCTAssertEqual(t.addBOS, false)
        XCTAssertEqual(t.chatTemplate, "{{ messages }}")
    }

    func testGapsInTheIdsArePadded() throws {
        try write("tokenizer.json", tokenizer(vocab: #"{"a": 0, "b": 2.0}"#, merges: "[]", added: "[]"))
        let t = try HFTokenizerMetadata(directory: directory)
        XCTAssertEqual(t.tokens, ["a", "[PAD1]", "b"])
        XCTAssertEqual(t.tokenTypes, [1, 5, 1])
        XCTAssertNil(t.chatTemplate, "no tokenizer_config.json")
    }

    func testMalformedTokenizerFilesNameTheField() throws {
        try write("tokenizer.json", tokenizer(vocab: #"{"a": 0, "b": true}"#))
        assertRejected(field: "model.vocab", "id of 'b' is not a valid id")
        try write("tokenizer.json", tokenizer(vocab: #"{"a": 0, "b": 1.5}"#))
        assertRejected(field: "model.vocab", "id of 'b' is not a valid id")
        try write("tokenizer.json", tokenizer(merges: #"["a b", ["a", 1]]"#))
        assertRejected(field: "model.merges[1]", "is neither")
        try write("tokenizer.json", tokenizer(merges: #"{"a": "b"}"#))
        assertRejected(field: "model.merges", "is not an array")
        try write("tokenizer.json", tokenizer(added: #"[{"id": "4", "content": "x"}]"#))
        assertRejected(field: "added_tokens[0]", "needs an id and a content")
        try write("tokenizer.json", tokenizer().replacingOccurrences(of: #""BPE""#, with: #""WordPiece""#))
        assertRejected(field: "model.type", "only BPE")
        try write("tokenizer.json", "{\n\"model\": {\"type\": \"BPE\",\n\"vocab\": {\"a\": 0,}}}")
        assertRejected(field: nil, "invalid JSON at line 3, column 18 (byte 44): expected a string key in an object")
    }
}
