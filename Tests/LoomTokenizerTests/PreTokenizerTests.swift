import XCTest
@testable import LoomTokenizer

final class PreTokenizerTests: XCTestCase {
    func testNames() throws {
        XCTAssertEqual(try PreTokenizer(ggufName: "gpt-2"), .gpt2)
        XCTAssertEqual(try PreTokenizer(ggufName: "gpt2"), .gpt2)
        XCTAssertEqual(try PreTokenizer(ggufName: "smollm"), .smollm)
        XCTAssertEqual(try PreTokenizer(ggufName: "qwen2"), .qwen2)
        XCTAssertEqual(try PreTokenizer(ggufName: "llama-bpe"), .llama3)
        XCTAssertEqual(try PreTokenizer(ggufName: "llama3"), .llama3)
        XCTAssertEqual(try PreTokenizer(ggufName: "llama-v3"), .llama3)
        XCTAssertThrowsError(try PreTokenizer(ggufName: "deepseek-coder")) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownPreTokenizer("deepseek-coder"))
            XCTAssertTrue("\(error)".contains("deepseek-coder"))
        }
        XCTAssertThrowsError(try PreTokenizer(ggufName: ""))
    }

    /// Words of `text` under a pre-tokenizer, via the scanner alone.
    private func words(_ text: String, _ kind: PreTokenizer) -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        var flags = scalars.map(ScalarClass.flags)
        for (i, v) in scalars.enumerated() where v == 0x0A || v == 0x0D { flags[i] |= ScalarClass.newline }
        var ends = [Int]()
        scalars.withUnsafeBufferPointer { s in
            flags.withUnsafeBufferPointer { f in
                PreTokenizerScanner(kind: kind).split(scalars: s, flags: f, into: &ends)
            }
        }
        var out = [String](), start = 0
        for e in ends {
            var w = String.UnicodeScalarView()
            for v in scalars[start ..< e] { w.append(Unicode.Scalar(v)!) }
            out.append(String(w))
            start = e
        }
        return out
    }

    /// The cases below are the textbook behaviour of the expressions (and what HF produces;
    /// the full comparison with HF is in the fixture tests).
    func testScannerEdgeCases() {
        // (?!\S): the last space of a run joins the next word.
        XCTAssertEqual(words("a   b", .gpt2), ["a", "  ", " b"])
        XCTAssertEqual(words("a   ", .gpt2), ["a", "   "])
        XCTAssertEqual(words("\t\tx", .gpt2), ["\t", "\t", "x"])
        // Case-sensitive contractions in GPT-2, case-insensitive (with ſ) in Llama 3 / Qwen2.
        XCTAssertEqual(words("I'M don't", .gpt2), ["I", "'", "M", " don", "'t"])
        XCTAssertEqual(words("I'M don't", .llama3), ["I", "'M", " don", "'t"])
        XCTAssertEqual(words("'ſa", .qwen2), ["'ſ", "a"])
        // \s*[\r\n]+ and the [\r\n]* tail of punctuation.
        XCTAssertEqual(words("x  \n  y", .qwen2), ["x", "  \n", " ", " y"])
        XCTAssertEqual(words("end.\r\n\r\nNext", .llama3), ["end", ".\r\n\r\n", "Next"])
        XCTAssertEqual(words("a\u{3000}b", .llama3), ["a", "\u{3000}b"])
        // Digits.
        XCTAssertEqual(words("x12345", .llama3), ["x", "123", "45"])
        XCTAssertEqual(words("x123", .qwen2), ["x", "1", "2", "3"])
        XCTAssertEqual(words("a 123 b", .smollm), ["a", " ", "1", "2", "3", " b"])
        XCTAssertEqual(words("a 123 b", .gpt2), ["a", " 123", " b"])
        // Letters may take one leading non-letter in Llama 3 / Qwen2.
        XCTAssertEqual(words("$BTC ETH/USDT", .qwen2), ["$BTC", " ETH", "/USDT"])
        XCTAssertEqual(words("$BTC ETH/USDT", .gpt2), ["$", "BTC", " ETH", "/", "USDT"])
    }

    /// Letter/number/whitespace classes of every code point against Python's unicodedata
    /// (code points unassigned in Python's Unicode version are skipped).
    func testScalarClassesMatchUnicodeData() throws {
        let fixture = try Fixtures.load("unicode_classes", as: UnicodeClassFixture.self)
        var cp: UInt32 = 0, checked = 0, mismatches: [String] = []
        var digits = 0
        for ch in fixture.runs.unicodeScalars {
            if ch.properties.numericType != nil && ch.value < 0x80 {
                digits = digits * 10 + Int(ch.value - 0x30)
                continue
            }
            let expected: UInt8?
            switch ch {
            case "L": expected = ScalarClass.letter
            case "N": expected = ScalarClass.number
            case "W": expected = ScalarClass.whitespace
            case "O": expected = 0
            default: expected = nil
            }
            for v in cp ..< cp + UInt32(digits) {
                guard let expected else { break }
                let got = ScalarClass.flags(v) & (ScalarClass.letter | ScalarClass.number | ScalarClass.whitespace)
                if got != expected && mismatches.count < 20 { mismatches.append(String(v, radix: 16)) }
                checked += 1
            }
            cp += UInt32(digits)
            digits = 0
        }
        XCTAssertEqual(cp, 0x110000)
        XCTAssertGreaterThan(checked, 280_000)
        XCTAssertEqual(mismatches, [], "Unicode \(fixture.unicode_version) classes differ")
    }
}
