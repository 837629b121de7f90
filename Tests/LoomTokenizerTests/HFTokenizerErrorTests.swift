import Foundation
import XCTest
@testable import LoomTokenizer

/// Bad Hugging Face files must throw `TokenizerError.invalidFile` naming the file, the JSON path
/// and the problem; never crash, hang or load a tokenizer that cuts text the wrong way.
final class HFTokenizerErrorTests: XCTestCase {
    /// A valid small byte-level tokenizer.json (GPT-2 style, trained by `tokenizers`) as a
    /// mutable JSON object.
    private func base() throws -> [String: Any] {
        let fixture = try Fixtures.load("hf_tokenizer_small", as: HFSmallFixture.self)
        let v = try XCTUnwrap(fixture.variants.first { $0.name == "gpt2_bytelevel" })
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(v.tokenizer_json.utf8)) as? [String: Any])
    }

    private func bytes(_ object: Any) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object))
    }

    /// Asserts that loading fails with an invalidFile error for `file` and `path` whose reason
    /// contains `reasonFragment`.
    private func assertInvalid(_ body: @autoclosure () throws -> Any, file expectedFile: String, path expectedPath: String,
                               _ reasonFragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case .invalidFile(let f, let p, let reason)? = error as? TokenizerError else {
                return XCTFail("unexpected error \(error)", file: file, line: line)
            }
            XCTAssertEqual(f, expectedFile, file: file, line: line)
            XCTAssertEqual(p, expectedPath, file: file, line: line)
            XCTAssertTrue(reason.contains(reasonFragment), "reason \(reason.debugDescription) lacks \(reasonFragment.debugDescription)",
                          file: file, line: line)
            // The message a user sees names all three.
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix(expectedPath.isEmpty ? "\(expectedFile): " : "\(expectedFile): \(expectedPath): "),
                          text, file: file, line: line)
        }
    }

    private func tokenizerFile(_ object: Any) throws -> HFTokenizerFile {
        try HFTokenizerFile(bytes: try bytes(object))
    }

    private func mutated(_ change: (inout [String: Any]) -> Void) throws -> [String: Any] {
        var json = try base()
        change(&json)
        return json
    }

    private func mutatedModel(_ change: (inout [String: Any]) -> Void) throws -> [String: Any] {
        try mutated { json in
            var model = json["model"] as! [String: Any]
            change(&model)
            json["model"] = model
        }
    }

    func testBaseIsValid() throws {
        XCTAssertEqual(try tokenizerFile(base()).preTokenizer, .gpt2)
    }

    func testMalformedJSON() throws {
        assertInvalid(try HFTokenizerFile(bytes: Array("{\"model\": {\"vocab\": [1, 2,]}}".utf8)),
                      file: "tokenizer.json", path: "", "line 1, column 27 (byte 26)")
        assertInvalid(try HFTokenizerFile(bytes: Array("{\n  \"model\": {\n    \"type\": \"BPE\"".utf8)),
                      file: "tokenizer.json", path: "", "line 3")
        assertInvalid(try HFTokenizerFile(bytes: []), file: "tokenizer.json", path: "", "unexpected end of input")
        assertInvalid(try HFTokenizerFile(bytes: Array("{\"a\": 1} x".utf8)), file: "tokenizer.json", path: "", "after the JSON value")
        assertInvalid(try HFTokenizerFile(bytes: Array("{\"a\": \"\\ud800\"}".utf8)), file: "tokenizer.json", path: "", "surrogate")
        assertInvalid(try HFTokenizerFile(bytes: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]), file: "tokenizer.json", path: "", "UTF-8")
        assertInvalid(try HFTokenizerFile(bytes: Array("{\"a\": NaN}".utf8)), file: "tokenizer.json", path: "", "expected a value")
        // Deep nesting is an error, not a stack overflow.
        assertInvalid(try HFTokenizerFile(bytes: Array(repeating: UInt8(ascii: "["), count: 100_000)),
                      file: "tokenizer.json", path: "", "nesting deeper")
        assertInvalid(try HFTokenizerFile(bytes: Array("[1, 2]".utf8)), file: "tokenizer.json", path: "", "expected an object, found an array")
    }

    func testWrongTypesNameThePath() throws {
        assertInvalid(try tokenizerFile(mutatedModel { $0["vocab"] = [1, 2] }),
                      file: "tokenizer.json", path: "model.vocab", "expected an object, found an array")
        assertInvalid(try tokenizerFile(mutatedModel { $0["vocab"] = ["a": "zero"] }),
                      file: "tokenizer.json", path: "model.vocab.a", "expected an integer, found a string")
        assertInvalid(try tokenizerFile(mutatedModel { $0["vocab"] = ["a": 1.5] }),
                      file: "tokenizer.json", path: "model.vocab.a", "non-integral")
        assertInvalid(try tokenizerFile(mutatedModel { m in
            var merges = m["merges"] as! [Any]
            merges[12] = 7
            m["merges"] = merges
        }), file: "tokenizer.json", path: "model.merges[12]", "expected a string or a pair, found a number")
        assertInvalid(try tokenizerFile(mutatedModel { m in
            var merges = m["merges"] as! [Any]
            merges[3] = ["a", "b", "c"]
            m["merges"] = merges
        }), file: "tokenizer.json", path: "model.merges[3]", "pair")
        assertInvalid(try tokenizerFile(mutatedModel { $0["merges"] = ["a  b"] }),
                      file: "tokenizer.json", path: "model.merges[0]", "separated by one space")
        assertInvalid(try tokenizerFile(mutatedModel { $0["merges"] = [["a", "zzzz"]] }),
                      file: "tokenizer.json", path: "model.merges[0]", "\"zzzz\" is not in model.vocab")
        assertInvalid(try tokenizerFile(mutatedModel { $0["ignore_merges"] = "yes" }),
                      file: "tokenizer.json", path: "model.ignore_merges", "expected a bool")
        assertInvalid(try tokenizerFile(mutatedModel { $0.removeValue(forKey: "merges") }),
                      file: "tokenizer.json", path: "model.merges", "missing")
        assertInvalid(try tokenizerFile(mutated { $0.removeValue(forKey: "model") }),
                      file: "tokenizer.json", path: "model", "missing")
        assertInvalid(try tokenizerFile(mutated { json in
            var added = json["added_tokens"] as! [[String: Any]]
            added[1]["content"] = 5
            json["added_tokens"] = added
        }), file: "tokenizer.json", path: "added_tokens[1].content", "expected a string")
    }

    func testUnsupportedFeatures() throws {
        assertInvalid(try tokenizerFile(mutated {
            $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": "\\w+|[^\\w\\s]+"], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
        }), file: "tokenizer.json", path: "pre_tokenizer.pretokenizers[0].pattern.Regex", "unknown Split regex \"\\\\w+|[^\\\\w\\\\s]+\"")
        assertInvalid(try tokenizerFile(mutated { $0["normalizer"] = ["type": "NFKC"] }),
                      file: "tokenizer.json", path: "normalizer.type", "unsupported normalizer \"NFKC\"")
        assertInvalid(try tokenizerFile(mutated { $0["normalizer"] = ["type": "Sequence", "normalizers": [["type": "NFC"], ["type": "Lowercase"]]] }),
                      file: "tokenizer.json", path: "normalizer.normalizers[1].type", "\"Lowercase\"")
        assertInvalid(try tokenizerFile(mutatedModel { $0["type"] = "WordPiece" }),
                      file: "tokenizer.json", path: "model.type", "\"WordPiece\"")
        assertInvalid(try tokenizerFile(mutatedModel { $0["byte_fallback"] = true }),
                      file: "tokenizer.json", path: "model.byte_fallback", "not supported")
        assertInvalid(try tokenizerFile(mutatedModel { $0["continuing_subword_prefix"] = "##" }),
                      file: "tokenizer.json", path: "model.continuing_subword_prefix", "not supported")
        assertInvalid(try tokenizerFile(mutated { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true, "use_regex": true] }),
                      file: "tokenizer.json", path: "pre_tokenizer.add_prefix_space", "not supported")
        assertInvalid(try tokenizerFile(mutated { $0["pre_tokenizer"] = ["type": "Whitespace"] }),
                      file: "tokenizer.json", path: "pre_tokenizer.type", "\"Whitespace\"")
        assertInvalid(try tokenizerFile(mutated { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false] }),
                      file: "tokenizer.json", path: "pre_tokenizer", "unsupported pre-tokenizer combination")
        assertInvalid(try tokenizerFile(mutated { $0["pre_tokenizer"] = NSNull() }),
                      file: "tokenizer.json", path: "pre_tokenizer", "required")
        assertInvalid(try tokenizerFile(mutated { $0["decoder"] = ["type": "WordPiece"] }),
                      file: "tokenizer.json", path: "decoder.type", "\"WordPiece\"")
        assertInvalid(try tokenizerFile(mutated { $0["decoder"] = NSNull() }),
                      file: "tokenizer.json", path: "decoder", "ByteLevel decoder is required")
        assertInvalid(try tokenizerFile(mutated { $0["post_processor"] = ["type": "BertProcessing"] }),
                      file: "tokenizer.json", path: "post_processor.type", "\"BertProcessing\"")
        assertInvalid(try tokenizerFile(mutated { json in
            var added = json["added_tokens"] as! [[String: Any]]
            added[0]["rstrip"] = true
            json["added_tokens"] = added
        }), file: "tokenizer.json", path: "added_tokens[0].rstrip", "not supported")
    }

    func testTemplateProcessing() throws {
        let special: [String: Any] = ["<s>": ["id": "<s>", "ids": [0], "tokens": ["<s>"]],
                                      "</s>": ["id": "</s>", "ids": [1], "tokens": ["</s>"]]]
        func template(_ single: [[String: Any]], _ specials: [String: Any] = special) throws -> [String: Any] {
            try mutated { $0["post_processor"] = ["type": "TemplateProcessing", "single": single, "pair": [], "special_tokens": specials] }
        }
        let a: [String: Any] = ["Sequence": ["id": "A", "type_id": 0]]
        let s: [String: Any] = ["SpecialToken": ["id": "<s>", "type_id": 0]]
        let e: [String: Any] = ["SpecialToken": ["id": "</s>", "type_id": 0]]
        let ok = try tokenizerFile(template([s, a, e]))
        XCTAssertEqual(ok.prefixTokenID, 0)
        XCTAssertEqual(ok.suffixTokenID, 1)
        assertInvalid(try tokenizerFile(template([s, s, a])), file: "tokenizer.json", path: "post_processor.single", "more than one token")
        assertInvalid(try tokenizerFile(template([s])), file: "tokenizer.json", path: "post_processor.single", "no sequence A")
        assertInvalid(try tokenizerFile(template([a, ["SpecialToken": ["id": "<x>", "type_id": 0]]])),
                      file: "tokenizer.json", path: "post_processor.single[1].SpecialToken.id", "not in special_tokens")
        assertInvalid(try tokenizerFile(template([s, a], ["<s>": ["id": "<s>", "ids": [999_999], "tokens": ["<s>"]]])),
                      file: "tokenizer.json", path: "post_processor.special_tokens.<s>.ids[0]", "outside the vocabulary")
    }

    func testIDsMustBeConsistent() throws {
        // A gap: an added token far beyond the vocabulary.
        assertInvalid(try tokenizerFile(mutated { json in
            var added = json["added_tokens"] as! [[String: Any]]
            added[0]["id"] = 700
            json["added_tokens"] = added
        }), file: "tokenizer.json", path: "model.vocab", "token id 600 has no token")
        // Which of the two entries is reported depends on hash order; either names the clash.
        XCTAssertThrowsError(try tokenizerFile(mutatedModel { m in
            var vocab = m["vocab"] as! [String: Any]
            vocab["zzz"] = 5
            m["vocab"] = vocab
        })) { error in
            guard case .invalidFile(let f, let p, let reason)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(f, "tokenizer.json")
            XCTAssertTrue(p.hasPrefix("model.vocab."), p)
            XCTAssertTrue(reason.contains("token id 5 is also used by"), reason)
            XCTAssertTrue(p == "model.vocab.zzz" || reason.contains("\"zzz\""), "\(p): \(reason)")
        }
        assertInvalid(try tokenizerFile(mutatedModel { m in
            var vocab = m["vocab"] as! [String: Any]
            vocab["zzz"] = Int.max
            m["vocab"] = vocab
        }), file: "tokenizer.json", path: "model.vocab.zzz", "outside")
        assertInvalid(try tokenizerFile(mutated { json in
            var added = json["added_tokens"] as! [[String: Any]]
            added[0]["id"] = 300  // a normal vocabulary entry with other text
            json["added_tokens"] = added
        }), file: "tokenizer.json", path: "added_tokens[0].id", "in model.vocab, not \"<s>\"")
        assertInvalid(try tokenizerFile(mutatedModel { $0["vocab"] = [String: Any](); $0["merges"] = [Any]() }
            .merging(["added_tokens": []]) { $1 }),
                      file: "tokenizer.json", path: "model.vocab", "empty")
    }

    func testConfigFiles() throws {
        assertInvalid(try HFTokenizerConfig(bytes: Array(#"{"chat_template": 5}"#.utf8)),
                      file: "tokenizer_config.json", path: "chat_template", "expected a string or a list")
        assertInvalid(try HFTokenizerConfig(bytes: Array(#"{"chat_template": [{"name": "default"}]}"#.utf8)),
                      file: "tokenizer_config.json", path: "chat_template[0].template", "missing")
        assertInvalid(try HFTokenizerConfig(bytes: Array(#"{"bos_token": ["<s>"]}"#.utf8)),
                      file: "tokenizer_config.json", path: "bos_token", "expected a string or an object")
        assertInvalid(try HFTokenizerConfig(bytes: Array(#"{"eos_token": {"lstrip": false}}"#.utf8)),
                      file: "tokenizer_config.json", path: "eos_token.content", "missing")
        assertInvalid(try HFTokenizerConfig(bytes: Array(#"{"add_bos_token": 1}"#.utf8)),
                      file: "tokenizer_config.json", path: "add_bos_token", "expected a bool")
        assertInvalid(try HFTokenizerConfig(bytes: Array(#"{"model_max_length": -4}"#.utf8)),
                      file: "tokenizer_config.json", path: "model_max_length", "not positive")
        assertInvalid(try HFGenerationConfig(bytes: Array(#"{"eos_token_id": [1, "2"]}"#.utf8)),
                      file: "generation_config.json", path: "eos_token_id[1]", "expected an integer")
        assertInvalid(try HFGenerationConfig(bytes: Array(#"{"top_p": 1.5}"#.utf8)),
                      file: "generation_config.json", path: "top_p", "outside (0, 1]")
        assertInvalid(try HFGenerationConfig(bytes: Array(#"{"temperature": -1}"#.utf8)),
                      file: "generation_config.json", path: "temperature", "outside")
        assertInvalid(try HFGenerationConfig(bytes: Array(#"{"top_k": -1}"#.utf8)),
                      file: "generation_config.json", path: "top_k", "less than 0")
        assertInvalid(try HFGenerationConfig(bytes: Array(#"{"max_new_tokens": "many"}"#.utf8)),
                      file: "generation_config.json", path: "max_new_tokens", "expected an integer")
    }

    func testDirectoriesAndCompanions() throws {
        let dir = try makeScratchDirectory(self)
        assertInvalid(try BPETokenizer(huggingFace: dir.path), file: "tokenizer.json", path: "", "not found in")
        assertInvalid(try BPETokenizer(huggingFace: dir.appendingPathComponent("nope.json").path),
                      file: dir.appendingPathComponent("nope.json").path, path: "", "no such file")
        try Data(try bytes(base())).write(to: dir.appendingPathComponent("tokenizer.json"))
        XCTAssertNoThrow(try BPETokenizer(huggingFace: dir.path))

        try Data(#"{"bos_token": "<nope>"}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        assertInvalid(try BPETokenizer(huggingFace: dir.path), file: "tokenizer_config.json", path: "bos_token", "not in the vocabulary")
        try Data(#"{"add_bos_token": true}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        assertInvalid(try BPETokenizer(huggingFace: dir.path), file: "tokenizer_config.json", path: "add_bos_token", "neither bos_token")
        try Data(#"{"eos_token": "</s>"}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        try Data(#"{"eos_token_id": [1, 4096]}"#.utf8).write(to: dir.appendingPathComponent("generation_config.json"))
        assertInvalid(try BPETokenizer(huggingFace: dir.path), file: "generation_config.json", path: "eos_token_id[1]", "outside the vocabulary")
        try Data("{\"eos_token_id\": 1".utf8).write(to: dir.appendingPathComponent("generation_config.json"))
        assertInvalid(try HFTokenizerBundle.load(path: dir.path), file: "generation_config.json", path: "", "malformed JSON")
    }
}
