import XCTest
@testable import LoomTokenizer

final class StreamingDetokenizerTests: XCTestCase {
    /// Streams every fixture string token by token: no chunk may contain a broken sequence
    /// (U+FFFD) unless the full decoding has one, and the chunks concatenate to the full text.
    func testStreamingMatchesDecode() throws {
        var heldBack = 0
        for (tokenizer, name) in [(try SharedTokenizers.smol(), "tokenizer_smollm"), (try SharedTokenizers.qwen(), "tokenizer_qwen2")] {
            let fixture = try Fixtures.load(name, as: GGUFTokenizerFixture.self)
            for c in fixture.cases {
                for skipSpecial in [false, true] {
                    var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: skipSpecial)
                    var joined = [UInt8]()
                    let full = tokenizer.decode(c.ids, skipSpecial: skipSpecial)
                    let fullHasReplacement = full.unicodeScalars.contains("\u{FFFD}")
                    for id in c.ids {
                        let chunk = stream.append(id)
                        if !fullHasReplacement {
                            XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}"), "\(name) \(describe(c.text))")
                        }
                        if chunk.isEmpty && !tokenizer.tokenBytes(id).isEmpty && !(skipSpecial && tokenizer.isControl(id)) {
                            heldBack += 1
                        }
                        joined += chunk.utf8
                    }
                    joined += stream.flush().utf8
                    XCTAssertEqual(joined, Array(full.utf8), "\(name) \(describe(c.text)) skipSpecial=\(skipSpecial)")
                }
            }
        }
        // The emoji/CJK strings split characters across tokens, so some output must be held back.
        XCTAssertGreaterThan(heldBack, 10)
    }

    /// A four-byte emoji delivered one byte-token at a time is emitted whole at the fourth.
    func testEmojiSplitIntoByteTokens() throws {
        let tokenizer = try SharedTokenizers.qwen()
        let bytes = Array("😀".utf8)
        let ids = bytes.map { Int(tokenizer.byteSymbol[Int($0)]) }
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        XCTAssertEqual(stream.append(ids[0]), "")
        XCTAssertEqual(stream.append(ids[1]), "")
        XCTAssertEqual(stream.append(ids[2]), "")
        XCTAssertEqual(stream.append(ids[3]), "😀")
        XCTAssertEqual(stream.flush(), "")
        // A sequence cut short is flushed as U+FFFD, like decode() does.
        XCTAssertEqual(stream.append(ids[0]), "")
        XCTAssertEqual(stream.flush(), "\u{FFFD}")
        // An invalid byte is not held back.
        let invalid = Int(tokenizer.byteSymbol[0xFF])
        XCTAssertEqual(stream.append(invalid), "\u{FFFD}")
    }

    func testIncompleteSuffixRules() {
        typealias S = StreamingDetokenizer
        XCTAssertEqual(S.incompleteSuffixLength([]), 0)
        XCTAssertEqual(S.incompleteSuffixLength([0x41]), 0)
        XCTAssertEqual(S.incompleteSuffixLength([0x41, 0xE4]), 1)
        XCTAssertEqual(S.incompleteSuffixLength([0xE4, 0xB8]), 2)
        XCTAssertEqual(S.incompleteSuffixLength([0xE4, 0xB8, 0xAD]), 0, "complete")
        XCTAssertEqual(S.incompleteSuffixLength([0xF0, 0x9F, 0x98]), 3)
        XCTAssertEqual(S.incompleteSuffixLength([0xE0, 0x80]), 0, "overlong: can never complete")
        XCTAssertEqual(S.incompleteSuffixLength([0xED, 0xA0]), 0, "surrogate: can never complete")
        XCTAssertEqual(S.incompleteSuffixLength([0xF4, 0x90]), 0, "above U+10FFFF")
        XCTAssertEqual(S.incompleteSuffixLength([0xC1]), 0)
        XCTAssertEqual(S.incompleteSuffixLength([0x80, 0x80]), 0, "stray continuation bytes")
    }
}
