import XCTest
@testable import LoomTokenizer

/// Llama 3 ("llama-bpe") against Meta's tokenizer.json as loaded by HF tokenizers. The fixture
/// carries the part of the 128k vocabulary and 280k merges the test strings can reach (BPE
/// only forms substrings of a word), so the tokenizer built here is exact on these strings.
final class Llama3TokenizerTests: XCTestCase {
    private func makeTokenizer(_ fixture: Llama3Fixture) throws -> BPETokenizer {
        // Entries outside the slice get a placeholder no byte sequence can form (U+0001 is not
        // in the byte-level alphabet) and the unused type.
        var tokens = (0 ..< fixture.vocab_size).map { "\u{1}unused\($0)" }
        var types = [Int](repeating: TokenType.unused.rawValue, count: fixture.vocab_size)
        for (piece, id) in fixture.vocab {
            tokens[id] = piece
            types[id] = TokenType.normal.rawValue
        }
        for added in fixture.added_tokens {
            tokens[added.id] = added.content
            types[added.id] = added.special ? TokenType.control.rawValue : TokenType.userDefined.rawValue
        }
        let pre = try PreTokenizer(ggufName: "llama-bpe")
        return try BPETokenizer(tokens: tokens, tokenTypes: types, merges: fixture.merges, preTokenizer: pre,
                                bosID: 128_000, eosID: 128_009, eotID: 128_009, addBOS: pre.addsBOSByDefault,
                                addEOS: false, ignoreMerges: pre.ignoresMergesByDefault)
    }

    func testMatchesMetaTokenizer() throws {
        let fixture = try Fixtures.load("tokenizer_llama3", as: Llama3Fixture.self)
        let tokenizer = try makeTokenizer(fixture)
        XCTAssertTrue(tokenizer.ignoresMerges)
        XCTAssertFalse(tokenizer.normalizesNFC)
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 70)
        for c in fixture.cases {
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: false), c.ids, "encode \(describe(c.text))")
            XCTAssertSameBytes(tokenizer.decode(c.ids), c.decoded, "decode \(describe(c.text))")
            XCTAssertSameBytes(tokenizer.decode(tokenizer.encode(c.text, addSpecial: false)), c.text,
                               "round trip \(describe(c.text))")
        }
        // Meta's tokenizer.json here has no BOS template; llama.cpp adds BOS for llama-bpe.
        XCTAssertTrue(tokenizer.addsBOS)
        XCTAssertEqual(tokenizer.encode("Hi", addSpecial: true), [128_000] + tokenizer.encode("Hi", addSpecial: false))
        XCTAssertTrue(tokenizer.endOfGenerationIDs.isSuperset(of: [128_001, 128_009]))
    }

    /// Digit groups: Llama 3 takes up to three digits per word, Qwen2 and SmolLM one.
    func testDigitGrouping() throws {
        let fixture = try Fixtures.load("tokenizer_llama3", as: Llama3Fixture.self)
        let tokenizer = try makeTokenizer(fixture)
        let ids = tokenizer.encode("1234567", addSpecial: false)
        XCTAssertEqual(ids.map { tokenizer.piece($0) }, ["123", "456", "7"])
    }
}
