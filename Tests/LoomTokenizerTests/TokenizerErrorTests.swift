import Foundation
import LoomFormats
import XCTest
@testable import LoomTokenizer

/// Bad tokenizer metadata must be a thrown error naming the key, never a crash or a silently
/// wrong tokenizer.
final class TokenizerErrorTests: XCTestCase {
    /// A tiny valid byte-level vocabulary: the 256 byte pieces, then "ab", "abc", "Ġab" and a
    /// control token.
    private static let bytePieces: [String] = (0 ..< 256).map { String(Unicode.Scalar(ByteLevel.scalarForByte[$0])!) }
    private static let tokens = bytePieces + ["ab", "abc", "Ġab", "<|end|>"]
    private static let types = [Int](repeating: 1, count: 259) + [3]
    private static let merges = ["a b", "ab c", "Ġ ab"]

    private func metadata() -> [String: GGUFValue] {
        [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string("gpt-2"),
            "tokenizer.ggml.tokens": .array(Self.tokens.map { .string($0) }),
            "tokenizer.ggml.token_type": .array(Self.types.map { .int32(Int32($0)) }),
            "tokenizer.ggml.merges": .array(Self.merges.map { .string($0) }),
            "tokenizer.ggml.eos_token_id": .uint32(259),
        ]
    }

    private func load(_ metadata: [String: GGUFValue]) throws -> BPETokenizer {
        var writer = GGUFWriter()
        for key in metadata.keys.sorted() { writer.setMetadata(key, metadata[key]!) }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("loom-tokenizer-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try BPETokenizer(gguf: GGUFFile(path: path))
    }

    private func assertThrows(_ metadata: [String: GGUFValue], _ expected: TokenizerError,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(metadata), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, file: file, line: line)
        }
    }

    func testValidTinyVocabulary() throws {
        let tokenizer = try load(metadata())
        XCTAssertEqual(tokenizer.vocabularySize, 260)
        XCTAssertEqual(tokenizer.encode("abc ab", addSpecial: false).map { tokenizer.piece($0) }, ["abc", "Ġab"])
        XCTAssertEqual(tokenizer.encode("x<|end|>"), [try XCTUnwrap(tokenizer.id(of: "x")), 259])
        XCTAssertEqual(tokenizer.encode("x<|end|>", parseSpecial: false).count, 8)
        XCTAssertEqual(tokenizer.endOfGenerationIDs, [259])
        XCTAssertTrue(tokenizer.warnings.isEmpty)
    }

    func testMissingPreTokenizerDefaultsToGPT2WithWarning() throws {
        var m = metadata()
        m["tokenizer.ggml.pre"] = nil
        let tokenizer = try load(m)
        XCTAssertEqual(tokenizer.preTokenizer, .gpt2)
        XCTAssertEqual(tokenizer.warnings.count, 1)
        XCTAssertTrue(tokenizer.warnings[0].contains("tokenizer.ggml.pre"))
    }

    func testMetadataErrors() {
        var m = metadata()
        m["tokenizer.ggml.model"] = nil
        assertThrows(m, .missingKey("tokenizer.ggml.model"))

        m = metadata()
        m["tokenizer.ggml.model"] = .string("llama")
        assertThrows(m, .unsupportedModel("llama"))

        m = metadata()
        m["tokenizer.ggml.model"] = .uint32(2)
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.model", reason: "expected a string, found \(GGUFValueType.uint32)"))

        m = metadata()
        m["tokenizer.ggml.pre"] = .string("chatglm-bpe")
        assertThrows(m, .unknownPreTokenizer("chatglm-bpe"))

        m = metadata()
        m["tokenizer.ggml.tokens"] = nil
        assertThrows(m, .missingKey("tokenizer.ggml.tokens"))

        m = metadata()
        m["tokenizer.ggml.tokens"] = .array([.int32(1), .int32(2)])
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.tokens", reason: "expected an array of strings"))

        m = metadata()
        m["tokenizer.ggml.token_type"] = .array([.int32(1)])
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.token_type", reason: "1 entries for 260 tokens"))

        m = metadata()
        m["tokenizer.ggml.token_type"] = .array((Self.types.dropLast() + [9]).map { .int32(Int32($0)) })
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.token_type", reason: "entry 259 is 9, not a token type (0...6)"))

        m = metadata()
        m["tokenizer.ggml.merges"] = nil
        assertThrows(m, .missingKey("tokenizer.ggml.merges"))

        m = metadata()
        m["tokenizer.ggml.merges"] = .array([.string("a b"), .string("abc")])
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.merges",
                                      reason: "entry 1 \"abc\" is not two symbols separated by a space"))

        m = metadata()
        m["tokenizer.ggml.merges"] = .array([.string("a ")])
        XCTAssertThrowsError(try load(m))

        m = metadata()
        m["tokenizer.ggml.eos_token_id"] = .uint32(260)
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.eos_token_id", reason: "id 260 is outside the vocabulary (0..<260)"))

        m = metadata()
        m["tokenizer.ggml.bos_token_id"] = .string("1")
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.bos_token_id", reason: "expected an integer token id, found \(GGUFValueType.string)"))

        m = metadata()
        m["tokenizer.ggml.add_bos_token"] = .bool(true)
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.add_bos_token",
                                      reason: "BOS is to be added but tokenizer.ggml.bos_token_id is missing"))

        m = metadata()
        m["tokenizer.ggml.add_eos_token"] = .uint8(1)
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.add_eos_token", reason: "expected a bool, found \(GGUFValueType.uint8)"))

        // Llama 3 adds BOS by default, so it needs a BOS id.
        m = metadata()
        m["tokenizer.ggml.pre"] = .string("llama-bpe")
        assertThrows(m, .invalidValue(key: "tokenizer.ggml.add_bos_token",
                                      reason: "BOS is to be added but tokenizer.ggml.bos_token_id is missing"))
    }

    func testDirectInitErrors() {
        XCTAssertThrowsError(try BPETokenizer(tokens: [], tokenTypes: nil, merges: [], preTokenizer: .gpt2, bosID: nil,
                                              eosID: nil, eotID: nil, addBOS: false, addEOS: false, ignoreMerges: false)) {
            XCTAssertEqual($0 as? TokenizerError, .invalidValue(key: "tokenizer.ggml.tokens", reason: "the vocabulary is empty"))
        }
        XCTAssertThrowsError(try BPETokenizer(tokens: Self.tokens, tokenTypes: nil, merges: [], preTokenizer: .gpt2, bosID: -1,
                                              eosID: nil, eotID: nil, addBOS: false, addEOS: false, ignoreMerges: false)) {
            XCTAssertEqual($0 as? TokenizerError,
                           .invalidValue(key: "tokenizer.ggml.bos_token_id", reason: "id -1 is outside the vocabulary (0..<260)"))
        }
        XCTAssertThrowsError(try BPETokenizer(tokens: Self.tokens, tokenTypes: nil, merges: [], preTokenizer: .gpt2, bosID: nil,
                                              eosID: nil, eotID: nil, addBOS: false, addEOS: true, ignoreMerges: false))
        XCTAssertThrowsError(try BPETokenizer(tokens: Self.tokens, tokenTypes: nil, merges: ["ab"], preTokenizer: .gpt2,
                                              bosID: nil, eosID: nil, eotID: nil, addBOS: false, addEOS: false,
                                              ignoreMerges: false))
    }

    /// Merges may name symbols that are not vocabulary entries (llama.cpp accepts such files):
    /// the intermediate symbol still merges on, and a final non-vocabulary symbol falls back to
    /// its bytes.
    func testMergeThroughSymbolOutsideVocabulary() throws {
        let tokens = Self.bytePieces + ["xyz"]
        let tokenizer = try BPETokenizer(tokens: tokens, tokenTypes: nil, merges: ["x y", "xy z", "q r"], preTokenizer: .gpt2,
                                         bosID: nil, eosID: nil, eotID: nil, addBOS: false, addEOS: false,
                                         ignoreMerges: false)
        XCTAssertEqual(tokenizer.encode("xyz"), [256])
        XCTAssertEqual(tokenizer.encode("xy").map { tokenizer.piece($0) }, ["x", "y"])
        XCTAssertEqual(tokenizer.encode("qr").map { tokenizer.piece($0) }, ["q", "r"])
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("xyzxy qr")), "xyzxy qr")
    }
}
