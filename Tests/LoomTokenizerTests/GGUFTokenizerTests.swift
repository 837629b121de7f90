import Foundation
import LoomFormats
import XCTest
@testable import LoomTokenizer

/// The two real models against the independent reference ids in the fixtures
/// (HF tokenizers over the GGUF vocabulary, cross-checked with tiktoken and llama.cpp).
final class GGUFTokenizerTests: XCTestCase {
    private func checkFixture(_ tokenizer: BPETokenizer, _ fixture: GGUFTokenizerFixture) {
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 70)
        for c in fixture.cases {
            let name = describe(c.text)
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: false, parseSpecial: true), c.ids, "encode \(name)")
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: false, parseSpecial: false), c.ids_plain ?? c.ids,
                           "encode without special parsing \(name)")
            XCTAssertSameBytes(tokenizer.decode(c.ids), c.decoded, "decode \(name)")
        }
    }

    func testSmolLM2MatchesReference() throws {
        let tokenizer = try SharedTokenizers.smol()
        let fixture = try Fixtures.load("tokenizer_smollm", as: GGUFTokenizerFixture.self)
        XCTAssertEqual(fixture.pre, "smollm")
        XCTAssertEqual(tokenizer.preTokenizer, .smollm)
        checkFixture(tokenizer, fixture)
        // No normalizer: every string survives a round trip byte for byte, except the one with
        // bytes SmolLM2's vocabulary cannot represent (dropped, as by the reference).
        var lossy = 0
        for c in fixture.cases {
            let roundTrip = tokenizer.decode(tokenizer.encode(c.text))
            XCTAssertSameBytes(roundTrip, c.decoded, "round trip \(describe(c.text))")
            if Array(roundTrip.utf8) != Array(c.text.utf8) { lossy += 1 }
        }
        XCTAssertEqual(lossy, 1)
    }

    func testQwen2MatchesReference() throws {
        let tokenizer = try SharedTokenizers.qwen()
        let fixture = try Fixtures.load("tokenizer_qwen2", as: GGUFTokenizerFixture.self)
        XCTAssertEqual(fixture.pre, "qwen2")
        XCTAssertEqual(tokenizer.preTokenizer, .qwen2)
        XCTAssertTrue(tokenizer.normalizesNFC)
        checkFixture(tokenizer, fixture)
        // Qwen NFC-normalises, so the round trip gives the NFC form (the reference decoding);
        // for text that is already NFC that is the text itself.
        var unchanged = 0
        for c in fixture.cases {
            let roundTrip = tokenizer.decode(tokenizer.encode(c.text))
            XCTAssertSameBytes(roundTrip, c.decoded, "round trip \(describe(c.text))")
            if Array(c.decoded.utf8) == Array(c.text.utf8) { unchanged += 1 }
        }
        XCTAssertGreaterThan(unchanged, fixture.cases.count - 10, "only the few non-NFC strings may change")
        XCTAssertLessThan(unchanged, fixture.cases.count, "the fixture must contain non-NFC text")
    }

    func testMetadataMatchesLlamaCpp() throws {
        for (tokenizer, name) in [(try SharedTokenizers.smol(), "tokenizer_smollm"), (try SharedTokenizers.qwen(), "tokenizer_qwen2")] {
            let fixture = try Fixtures.load(name, as: LlamaCppFacts.self).llama_cpp
            XCTAssertEqual(tokenizer.bosID, fixture.bos_id, name)
            XCTAssertEqual(tokenizer.eosID, fixture.eos_id, name)
            XCTAssertEqual(tokenizer.addsBOS, fixture.add_bos, name)
            XCTAssertEqual(tokenizer.addsEOS, fixture.add_eos, name)
            // llama.cpp also turns the ordinary token "</s>" into an end-of-generation control
            // token; Loom deliberately does not (see BPETokenizer.endOfGenerationTexts).
            let deviation = Set(fixture.eog_ids.filter { tokenizer.piece($0) == "</s>" })
            XCTAssertEqual(tokenizer.endOfGenerationIDs, Set(fixture.eog_ids).subtracting(deviation), name)
            let control = Set((0 ..< tokenizer.vocabularySize).filter { tokenizer.isControl($0) })
            XCTAssertEqual(control, Set(fixture.control_ids).subtracting(deviation), name)
            XCTAssertTrue(tokenizer.warnings.isEmpty, "\(name): \(tokenizer.warnings)")
        }
    }

    func testVocabularyFacts() throws {
        let qwen = try SharedTokenizers.qwen()
        XCTAssertEqual(qwen.vocabularySize, 151_936)
        XCTAssertEqual(qwen.id(of: "<|im_start|>"), 151_644)
        XCTAssertEqual(qwen.id(of: "<|im_end|>"), 151_645)
        XCTAssertEqual(qwen.tokenType(151_657), .userDefined)  // <tool_call>
        XCTAssertFalse(qwen.isControl(151_657))
        XCTAssertEqual(qwen.tokenType(151_700), .unused)
        XCTAssertEqual(qwen.decode([151_700]), "", "unused padding entries decode to nothing")
        XCTAssertEqual(qwen.decode([151_644, 151_645], skipSpecial: false), "<|im_start|><|im_end|>")
        XCTAssertEqual(qwen.decode([151_644, 151_645], skipSpecial: true), "")
        XCTAssertEqual(qwen.decode([151_657], skipSpecial: true), "<tool_call>", "user-defined tokens are text")

        let smol = try SharedTokenizers.smol()
        XCTAssertEqual(smol.vocabularySize, 49_152)
        let the = try XCTUnwrap(smol.id(of: "Ġthe"))
        XCTAssertEqual(smol.piece(the), "Ġthe")
        XCTAssertEqual(smol.tokenBytes(the), Array(" the".utf8))
        XCTAssertEqual(smol.tokenBytes(0), Array("<|endoftext|>".utf8), "control tokens: their text")
        XCTAssertNil(smol.id(of: "definitely-not-a-token-ĠĠĠ"))
        // Out-of-range ids never crash: empty piece/bytes, U+FFFD when decoded.
        XCTAssertEqual(smol.piece(-1), "")
        XCTAssertEqual(smol.piece(49_152), "")
        XCTAssertEqual(smol.tokenBytes(1 << 40), [])
        XCTAssertFalse(smol.isControl(-5))
        XCTAssertEqual(smol.decode([the, 49_152, the]), " the\u{FFFD} the")

        // Qwen has a piece for every byte. SmolLM2 lacks 21 (controls such as 0x04 and lead bytes
        // of unassigned planes); such bytes are dropped, as HF and llama.cpp do (fixture string
        // "bytes SmolLM2 lacks: …").
        for b in 0 ..< 256 {
            XCTAssertLessThan(Int(qwen.byteSymbol[b]), qwen.vocabularySize, "byte \(b)")
        }
        XCTAssertEqual(smol.encode("\u{4}"), [])
        XCTAssertEqual(smol.encode("a\u{4}b"), smol.encode("a") + smol.encode("b"))
    }

    func testAddSpecialFollowsMetadata() throws {
        let qwen = try SharedTokenizers.qwen()
        XCTAssertFalse(qwen.addsBOS)
        XCTAssertEqual(qwen.encode("hi", addSpecial: true), qwen.encode("hi", addSpecial: false))
    }
}

/// The llama.cpp facts recorded in the GGUF fixtures.
struct LlamaCppFacts: Decodable {
    struct Facts: Decodable {
        let eog_ids: [Int]
        let control_ids: [Int]
        let bos_id: Int
        let eos_id: Int
        let add_bos: Bool
        let add_eos: Bool
    }
    let llama_cpp: Facts
}
