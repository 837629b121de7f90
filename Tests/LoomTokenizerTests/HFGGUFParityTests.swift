import Foundation
import LoomFormats
import XCTest
@testable import LoomTokenizer

/// The tokenizer.json path and the GGUF path agree on the two real GGUF models.
///
/// The tokenizer.json is written here from the GGUF vocabulary the way Hugging Face publishes
/// these models (and the way gen_tokenizer_fixtures.py builds its `tokenizers` reference):
/// normal, control and user-defined tokens in `model.vocab`, control tokens as special added
/// tokens, user-defined ones as non-special added tokens, merges as pairs, and the models' own
/// normalizer and pre-tokenizer (SmolLM2: Digits + ByteLevel; Qwen2: NFC + Split + ByteLevel).
/// The ids are checked against the fixtures' independent `tokenizers` ids and against the
/// GGUF tokenizer.
final class HFGGUFParityTests: XCTestCase {
    private static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private func tokenizerJSON(from gguf: GGUFFile, pre: String) throws -> Data {
        let tokens = try XCTUnwrap(gguf["tokenizer.ggml.tokens"]?.stringArray)
        let types = try XCTUnwrap(gguf["tokenizer.ggml.token_type"]?.intArray)
        let ggufMerges = try XCTUnwrap(gguf["tokenizer.ggml.merges"]?.stringArray)
        var vocab = [String: Int]()
        var added = [[String: Any]]()
        for (id, token) in tokens.enumerated() where [1, 3, 4].contains(types[id]) {
            vocab[token] = id
            if types[id] != 1 {
                added.append(["id": id, "content": token, "special": types[id] == 3, "lstrip": false, "rstrip": false,
                              "single_word": false, "normalized": false])
            }
        }
        let merges: [[String]] = ggufMerges.map { m in
            let parts = m.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            return [String(parts[0]), String(parts[1])]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        var json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": NSNull(),
            "post_processor": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges],
        ]
        switch pre {
        case "smollm":
            json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        case "qwen2":
            json["normalizer"] = ["type": "NFC"]
            var noRegex = byteLevel
            noRegex["use_regex"] = false
            json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": Self.qwen2Regex], "behavior": "Isolated", "invert": false], noRegex]]
        default:
            XCTFail("unexpected pre-tokenizer \(pre)")
        }
        return try JSONSerialization.data(withJSONObject: json)
    }

    private func checkParity(model: String, fixtureName: String, gguf ggufTokenizer: BPETokenizer) throws {
        let fixture = try Fixtures.load(fixtureName, as: GGUFTokenizerFixture.self)
        let gguf = try GGUFFile(path: TestModels.path(model))
        let dir = try makeScratchDirectory(self)
        let path = dir.appendingPathComponent("tokenizer.json")
        try tokenizerJSON(from: gguf, pre: fixture.pre).write(to: path)
        let hf = try BPETokenizer(huggingFace: path)
        XCTAssertEqual(hf.preTokenizer.rawValue, fixture.pre)
        XCTAssertEqual(hf.normalizesNFC, ggufTokenizer.normalizesNFC)
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 70)
        for c in fixture.cases {
            let name = "\(model) \(describe(c.text))"
            XCTAssertEqual(hf.encode(c.text, addSpecial: false), c.ids, "encode \(name)")
            XCTAssertEqual(hf.encode(c.text, addSpecial: false, parseSpecial: false), c.ids_plain ?? c.ids, "encode plain \(name)")
            XCTAssertEqual(hf.encode(c.text, addSpecial: false), ggufTokenizer.encode(c.text, addSpecial: false), "vs GGUF \(name)")
            XCTAssertSameBytes(hf.decode(c.ids), c.decoded, "decode \(name)")
            XCTAssertSameBytes(hf.decode(c.ids, skipSpecial: true), ggufTokenizer.decode(c.ids, skipSpecial: true), "decode skip \(name)")
        }
        // Token types agree wherever the tokenizer.json has the token.
        for id in 0 ..< hf.vocabularySize where ggufTokenizer.tokenType(id) != .unused {
            if hf.tokenType(id) != ggufTokenizer.tokenType(id) || hf.piece(id) != ggufTokenizer.piece(id) {
                return XCTFail("\(model) token \(id): \(hf.piece(id)) \(String(describing: hf.tokenType(id))) vs \(ggufTokenizer.piece(id)) \(String(describing: ggufTokenizer.tokenType(id)))")
            }
        }
    }

    func testSmolLM2() throws {
        try checkParity(model: TestModels.smolLM2, fixtureName: "tokenizer_smollm", gguf: SharedTokenizers.smol())
    }

    func testQwen2() throws {
        try checkParity(model: TestModels.qwenCoder, fixtureName: "tokenizer_qwen2", gguf: SharedTokenizers.qwen())
    }
}
