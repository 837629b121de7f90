import Foundation
import LoomFormats
import XCTest
@testable import LoomTokenizer

/// The tokenizer.json path and the GGUF path agree on the two real GGUF models.
///
/// The tokenizer.json is written by `HFTokenizerJSONWriter` from the GGUF vocabulary the way Hugging Face publishes
/// these models (and the way gen_tokenizer_fixtures.py builds its `tokenizers` reference):
/// normal, control and user-defined tokens in `model.vocab`, control tokens as special added
/// tokens, user-defined ones as non-special added tokens, merges as pairs, and the models' own
/// normalizer and pre-tokenizer (SmolLM2: Digits + ByteLevel; Qwen2: NFC + Split + ByteLevel).
/// The ids are checked against the fixtures' independent `tokenizers` ids and against the
/// GGUF tokenizer.
final class HFGGUFParityTests: XCTestCase {

    /// The library writer (`HFTokenizerJSONWriter`) under test.
    private func tokenizerJSON(from gguf: GGUFFile, pre: String) throws -> Data {
        XCTAssertEqual(gguf["tokenizer.ggml.pre"]?.stringValue, pre)
        return try HFTokenizerJSONWriter.tokenizerJSON(gguf: gguf)
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
