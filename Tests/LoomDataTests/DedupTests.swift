import Foundation
import XCTest
@testable import LoomData

final class DedupTests: XCTestCase {
    /// A copy of `words` with `rate` of its words replaced by fresh ones.
    func mutate(_ words: [String], rate: Double, rng: inout SeededGenerator) -> [String] {
        var out = words
        let edits = Int((rate * Double(words.count)).rounded())
        var positions = Array(0 ..< words.count)
        positions.shuffle(using: &rng)
        for p in positions.prefix(edits) { out[p] = "edit\(rng.next() % 1_000_000)" }
        return out
    }

    func testMinHashEstimatesJaccard() throws {
        let hasher = try MinHasher(shingleSize: 3, permutations: 256)
        var rng = SeededGenerator(seed: 7)
        var worst = 0.0
        var sumError = 0.0
        var pairs = 0
        for rate in stride(from: 0.0, through: 0.6, by: 0.05) {
            for _ in 0 ..< 8 {
                let a = randomDocument(words: 400, rng: &rng)
                let b = mutate(a, rate: rate, rng: &rng)
                let exact = MinHasher.jaccard(hasher.shingleSet(a.joined(separator: " ")), hasher.shingleSet(b.joined(separator: " ")))
                let estimate = MinHasher.estimatedJaccard(hasher.signature(a.joined(separator: " "))[...], hasher.signature(b.joined(separator: " "))[...])
                worst = max(worst, abs(exact - estimate))
                sumError += abs(exact - estimate)
                pairs += 1
            }
        }
        // Standard error is sqrt(J(1−J)/256) ≤ 0.031; 4.5 standard errors over 104 pairs.
        XCTAssertLessThan(worst, 0.14)
        XCTAssertLessThan(sumError / Double(pairs), 0.03)
    }

    func testWordsAreCaseAndPunctuationInsensitive() {
        XCTAssertEqual(MinHasher.wordHashes("Hello, WORLD! Ça va?"), MinHasher.wordHashes("hello world ça VA"))
        XCTAssertEqual(MinHasher.wordHashes("").count, 0)
    }

    func testLSHBandingForThreshold() throws {
        let lsh = try LSHParameters(threshold: 0.7, permutations: 128)
        XCTAssertLessThanOrEqual(lsh.bands * lsh.rows, 128)
        XCTAssertGreaterThanOrEqual(LSHParameters.candidateProbability(0.7, bands: lsh.bands, rows: lsh.rows), 0.99)
        XCTAssertLessThan(LSHParameters.candidateProbability(0.7, bands: 128 / (lsh.rows + 1), rows: lsh.rows + 1), 0.99)
        XCTAssertThrowsError(try LSHParameters(bands: 20, rows: 10, permutations: 128)) { XCTAssertTrue("\($0)".contains("--num-perm")) }
        XCTAssertThrowsError(try LSHParameters(threshold: 1.5, permutations: 128))
    }

    func testUnionFindKeepsSmallestAsRoot() {
        var sets = UnionFind(count: 6)
        sets.union(4, 2)
        sets.union(5, 4)
        sets.union(1, 3)
        XCTAssertEqual((0 ..< 6).map { sets.find($0) }, [0, 1, 2, 1, 2, 2])
        XCTAssertFalse(sets.union(2, 5))
    }

    /// Planted near-copies with known edit rates: pairs at exact Jaccard ≥ 0.8 are found
    /// (recall ≥ 0.95), pairs below 0.5 are not (false positives ≤ 1 %).
    func testPlantedNearDuplicatesRecallAndFalsePositives() throws {
        let dir = try temporaryFolder(self)
        let input = dir + "/in.jsonl"
        let output = dir + "/out.jsonl"
        var rng = SeededGenerator(seed: 42)
        let hasher = try MinHasher(shingleSize: 5, permutations: 128)
        var lines = ""
        var plantedPairs: [(original: String, copy: String, jaccard: Double)] = []
        var n = 0
        func add(_ words: [String]) -> String {
            n += 1
            let record = DataRecord(id: "d\(n)", source: "s\(n)", text: words.joined(separator: " "))
            lines += record.jsonLine + "\n"
            return record.id
        }
        // 5-shingles: an edit rate r gives Jaccard ≈ (1−r)^5 / (2 − (1−r)^5): 0.02 → 0.83, 0.03 → 0.75, 0.1 → 0.42.
        let rates = [0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3]
        for i in 0 ..< 300 {
            let original = randomDocument(words: 300, rng: &rng)
            let originalID = add(original)
            let copy = mutate(original, rate: rates[i % rates.count], rng: &rng)
            let copyID = add(copy)
            let j = MinHasher.jaccard(hasher.shingleSet(original.joined(separator: " ")), hasher.shingleSet(copy.joined(separator: " ")))
            plantedPairs.append((originalID, copyID, j))
        }
        try write(lines, to: input)
        let lsh = try LSHParameters(threshold: 0.7, permutations: 128)
        let stats = try Deduplicator(hasher: hasher, lsh: lsh, threshold: 0.7).run(input: input, output: output)
        let kept = Set(try readLines(output).map { try DataRecord(jsonLine: Array($0.utf8)).id })
        let high = plantedPairs.filter { $0.jaccard >= 0.8 }
        let low = plantedPairs.filter { $0.jaccard < 0.5 }
        XCTAssertGreaterThan(high.count, 120)
        XCTAssertGreaterThan(low.count, 60)
        let found = high.filter { kept.contains($0.original) && !kept.contains($0.copy) }.count
        let falsePositives = low.filter { !kept.contains($0.copy) }.count
        XCTAssertGreaterThanOrEqual(Double(found) / Double(high.count), 0.95)
        XCTAssertLessThanOrEqual(Double(falsePositives) / Double(low.count), 0.01)
        // Exact copies (rate 0) are counted as exact; every original is kept.
        XCTAssertEqual(stats.counters["exact_duplicates_removed"], 30)
        XCTAssertTrue(plantedPairs.allSatisfy { kept.contains($0.original) })
        // The clusters file lists each removed copy with its representative.
        let clusters = try readLines(output + ".clusters.jsonl")
        XCTAssertEqual(clusters.count, stats.counters["clusters"])
        XCTAssertEqual(stats.documentsIn - stats.documentsOut,
                       (stats.counters["exact_duplicates_removed"] ?? 0) + (stats.counters["near_duplicates_removed"] ?? 0))
    }

    func testExactDuplicatesIgnoreCaseAndSpacing() throws {
        let dir = try temporaryFolder(self)
        let input = dir + "/in.jsonl"
        let records = [
            DataRecord(id: "a", source: "1", text: "The same text, here."),
            DataRecord(id: "b", source: "2", text: "the  SAME text\nhere"),
            DataRecord(id: "c", source: "3", text: "A different text."),
            DataRecord(id: "d", source: "4", text: "!!!"),
            DataRecord(id: "e", source: "5", text: "..."),
        ]
        try write(records.map { $0.jsonLine + "\n" }.joined(), to: input)
        let hasher = try MinHasher()
        let stats = try Deduplicator(hasher: hasher, lsh: try LSHParameters(threshold: 0.7, permutations: 128), threshold: 0.7)
            .run(input: input, output: dir + "/out.jsonl")
        let kept = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)).id }
        XCTAssertEqual(kept, ["a", "c", "d"])
        XCTAssertEqual(stats.counters["exact_duplicates_removed"], 2)
    }
}
