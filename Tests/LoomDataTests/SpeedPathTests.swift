import Foundation
import XCTest
@testable import LoomData

/// The fast paths added for the #27 speed targets give the results of the slow ones.
final class SpeedPathTests: XCTestCase {
    /// Every scalar the quick check calls stable is left unchanged by Foundation's NFC, alone,
    /// after a base letter, and before a combining mark's base (U+0300 composes with "e").
    func testNFCQuickCheckAgreesWithFoundation() {
        var stable = 0
        var unstable = 0
        for v in UInt32(0x80) ..< 0x3_2000 {
            guard let scalar = Unicode.Scalar(v), NFCQuickCheck.isStable(v) else { unstable += 1; continue }
            stable += 1
            // Every 7th scalar above the BMP's common blocks keeps the test fast.
            if v > 0x3000 && v % 7 != 0 { continue }
            for text in [String(scalar), "a" + String(scalar), String(scalar) + "b"] {
                XCTAssertEqual(text.precomposedStringWithCanonicalMapping, text, String(format: "U+%04X", v))
            }
        }
        XCTAssertGreaterThan(stable, 100_000)
        XCTAssertGreaterThan(unstable, 1_000)  // combining marks, Hangul jamo, singletons, unassigned
        // Known unstable scalars: a combining acute, OHM SIGN (→ Ω), a Hangul medial vowel, a CJK compatibility ideograph.
        for v: UInt32 in [0x301, 0x2126, 0x1161, 0xF900, 0x0BBE] { XCTAssertFalse(NFCQuickCheck.isStable(v), String(format: "U+%04X", v)) }
    }

    func testNormalizerComposesOnlyWhatNeedsIt() {
        let n = TextNormalizer()
        XCTAssertEqual(n.normalize("Cafe\u{301} \u{2126}hm \u{1100}\u{1161}"), "Café \u{03A9}hm \u{AC00}")
        // Already NFC, non-ASCII: unchanged byte for byte (the fast path).
        let nfc = "“Quoted” — café ¶ 日本語 Ω"
        XCTAssertEqual(n.normalize(nfc), nfc)
        var bytes = Array(nfc.utf8)
        XCTAssertTrue(bytes.withUnsafeBufferPointer { NFCQuickCheck.isNFC($0) })
        bytes = Array("e\u{301}".utf8)
        XCTAssertFalse(bytes.withUnsafeBufferPointer { NFCQuickCheck.isNFC($0) })
    }

    func testWhitespaceWordsMatchCharacterSplit() {
        for text in ["", " a  b\tc\n\nd ", "naïve café\u{A0}x 日本 語", "\n\n", "x"] {
            let expected = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
            XCTAssertEqual(QualityFilter.whitespaceWords(text), expected, text)
        }
    }

    func testJSONStringsWithEscapesRoundTrip() throws {
        let text = String(repeating: "plain run of text ", count: 200) + "\"quoted\"\n\t\\ back\u{01}slash é 日本 \u{1F600}"
            + String(repeating: "\nline", count: 100)
        let record = DataRecord(id: "a\"b", source: "s\\t", text: text)
        var line: [UInt8] = []
        record.writeJSONLine(into: &line)
        XCTAssertFalse(line.dropLast().contains(0x0A), "newlines must be escaped")
        let back = try DataRecord(jsonLine: Array(line.dropLast()))
        XCTAssertEqual(back, record)
        // Python's json.dumps(ensure_ascii=False) writes the same text this way.
        XCTAssertTrue(String(decoding: line, as: UTF8.self).contains(#"\"quoted\"\n\t\\ back\u0001slash é"#))
    }

    func testBatchesEndAtTheByteLimit() throws {
        let dir = try temporaryFolder(self)
        let text = String(repeating: "x", count: 1000)
        try write((0 ..< 50).map { DataRecord(id: "\($0)", source: "s", text: text).jsonLine + "\n" }.joined(), to: dir + "/in.jsonl")
        let saved = RecordStream.maxBatchBytes
        defer { RecordStream.maxBatchBytes = saved }
        RecordStream.maxBatchBytes = 10_000
        var sizes: [Int] = []
        var stats = StageStats(stage: "t", inputs: [], output: "")
        try RecordStream.forEachBatch(path: dir + "/in.jsonl", stats: &stats) { batch, _ in sizes.append(batch.count) }
        XCTAssertEqual(sizes.reduce(0, +), 50)
        XCTAssertTrue(sizes.dropLast().allSatisfy { $0 == 10 }, "\(sizes)")  // 10 lines of ~1030 bytes reach 10,000
    }

    func testSignatureStoreAcrossBlocks() {
        let store = SignatureStore(width: 3)
        let n = SignatureStore.rowsPerBlock * 2 + 5
        for i in 0 ..< n { store.append(contentsOf: [UInt32(i), UInt32(i * 2), UInt32(i * 3)]) }
        store.append(contentsOf: [])  // nothing
        XCTAssertEqual(store.count, n)
        for i in [0, 1, SignatureStore.rowsPerBlock - 1, SignatureStore.rowsPerBlock, n - 1] {
            let row = store.row(i)
            XCTAssertEqual([row[0], row[1], row[2]], [UInt32(i), UInt32(i * 2), UInt32(i * 3)])
        }
        store.removeAll()
        XCTAssertEqual(store.count, 0)
    }

    /// The word hashes are those of the lowercased words' UTF-8 bytes, split at every
    /// character that is neither a letter nor a digit.
    func testWordHashesAreHashesOfLowercasedWords() {
        let words = ["über", "straße", "x2", "日本語", "a"]
        XCTAssertEqual(MinHasher.wordHashes("Über-STRASSE? Straße, x2 — 日本語!a"),
                       ["über", "strasse", "straße", "x2", "日本語", "a"].map { StableHash.hash64($0) })
        XCTAssertEqual(MinHasher.wordHashes(words.joined(separator: " ")), words.map { StableHash.hash64($0) })
        XCTAssertEqual(MinHasher.wordHashes("  ,, "), [])
    }
}
