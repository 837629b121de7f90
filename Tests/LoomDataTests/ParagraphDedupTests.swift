import Foundation
import XCTest
@testable import LoomData

final class ParagraphDedupTests: XCTestCase {
    /// Documents that differ but share a licence paragraph (exact) and a quoted passage
    /// (near, one word in 60 changed) lose the repeats and keep everything else.
    func testRepeatedParagraphsAreRemovedFromLaterDocuments() throws {
        let dir = try temporaryFolder(self)
        var rng = SeededGenerator(seed: 5)
        func paragraph(_ words: Int = 60) -> String { randomDocument(words: words, rng: &rng).joined(separator: " ") }
        let licence = paragraph()
        let passage = randomDocument(words: 60, rng: &rng)
        var documents: [[String]] = []
        for i in 0 ..< 12 {
            var parts = ["Example:", paragraph(), paragraph(), paragraph()]
            if i % 2 == 0 { parts.insert(licence, at: 2) }
            if i % 3 == 0 {
                var copy = passage
                if i > 0 { copy[7 + i] = "changed\(i)" }
                parts.append(copy.joined(separator: " "))
            }
            documents.append(parts)
        }
        let lines = documents.enumerated().map { DataRecord(id: "d\($0.offset)", source: "s", text: $0.element.joined(separator: "\n\n")).jsonLine + "\n" }
        try write(lines.joined(), to: dir + "/in.jsonl")
        var dedup = Deduplicator(hasher: try MinHasher(), lsh: try LSHParameters(threshold: 0.7, permutations: 128), threshold: 0.7)
        dedup.paragraphs = true
        let stats = try dedup.run(input: dir + "/in.jsonl", output: dir + "/out.jsonl")
        let out = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)) }
        XCTAssertEqual(out.count, 12, "no whole document is a near duplicate")
        XCTAssertEqual(stats.counters["exact_duplicate_paragraphs_removed"], 5)
        XCTAssertEqual(stats.counters["near_duplicate_paragraphs_removed"], 3)
        XCTAssertEqual(stats.counters["documents_with_paragraphs_removed"], 7)
        for (i, record) in out.enumerated() {
            var expected = documents[i]
            if i > 0 { expected.removeAll { $0 == licence } }
            if i > 0 && i % 3 == 0 { expected.removeLast() }
            XCTAssertEqual(record.text, expected.joined(separator: "\n\n"), "d\(i)")
        }
        // Without --paragraphs nothing changes.
        dedup.paragraphs = false
        _ = try dedup.run(input: dir + "/in.jsonl", output: dir + "/plain.jsonl")
        XCTAssertEqual(try readLines(dir + "/plain.jsonl"), lines.map { String($0.dropLast()) })
    }

    /// A paragraph of a document removed as a near duplicate never removes a kept paragraph.
    func testParagraphsOfRemovedDocumentsDoNotCount() throws {
        let dir = try temporaryFolder(self)
        var rng = SeededGenerator(seed: 9)
        let body = randomDocument(words: 400, rng: &rng).joined(separator: " ")
        let extra = randomDocument(words: 40, rng: &rng).joined(separator: " ")
        let other = randomDocument(words: 80, rng: &rng).joined(separator: " ")
        // d1 repeats d0 with a paragraph of its own, and is removed; d2 holds that paragraph.
        try write([
            DataRecord(id: "d0", source: "s", text: body),
            DataRecord(id: "d1", source: "s", text: body + "\n\n" + extra),
            DataRecord(id: "d2", source: "s", text: other + "\n\n" + extra),
        ].map { $0.jsonLine + "\n" }.joined(), to: dir + "/in.jsonl")
        var dedup = Deduplicator(hasher: try MinHasher(), lsh: try LSHParameters(threshold: 0.7, permutations: 128), threshold: 0.7)
        dedup.paragraphs = true
        let stats = try dedup.run(input: dir + "/in.jsonl", output: dir + "/out.jsonl")
        let out = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)) }
        XCTAssertEqual(out.map(\.id), ["d0", "d2"])
        XCTAssertEqual(out[1].text, other + "\n\n" + extra)
        XCTAssertEqual(stats.counters["exact_duplicate_paragraphs_removed"], nil)
    }
}
