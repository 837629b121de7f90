import Foundation
import XCTest
@testable import LoomData
import LoomJinja

/// The train/validation split of `format` keeps near-copies together.
final class SplitTests: XCTestCase {
    func mutate(_ words: [String], rate: Double, rng: inout SeededGenerator) -> [String] {
        var out = words
        var positions = Array(0 ..< words.count)
        positions.shuffle(using: &rng)
        for p in positions.prefix(Int((rate * Double(words.count)).rounded())) { out[p] = "edit\(rng.next() % 1_000_000)" }
        return out
    }

    /// Planted near-copies (Jaccard 0.65–0.9, which dedup at 0.9 would keep) never straddle
    /// the split; without the near-duplicate grouping, many would.
    func testPlantedNearCopiesNeverStraddleTheSplit() throws {
        let dir = try temporaryFolder(self)
        var rng = SeededGenerator(seed: 11)
        let hasher = try MinHasher(shingleSize: 5, permutations: 128)
        var lines = ""
        var pairs: [(String, String)] = []
        for i in 0 ..< 150 {
            let original = randomDocument(words: 200, rng: &rng)
            let copy = mutate(original, rate: [0.01, 0.02, 0.03, 0.04][i % 4], rng: &rng)
            let j = MinHasher.jaccard(hasher.shingleSet(original.joined(separator: " ")), hasher.shingleSet(copy.joined(separator: " ")))
            XCTAssertGreaterThanOrEqual(j, 0.65)
            let a = "A\(i) " + original.joined(separator: " ")
            let b = "B\(i) " + copy.joined(separator: " ")
            pairs.append((a, b))
            lines += DataRecord(id: "a\(i)", source: "x", text: a).jsonLine + "\n"
            // Unrelated documents between the two copies.
            lines += DataRecord(id: "u\(i)", source: "x", text: randomDocument(words: 200, rng: &rng).joined(separator: " ")).jsonLine + "\n"
            lines += DataRecord(id: "b\(i)", source: "x", text: b).jsonLine + "\n"
        }
        try write(lines, to: dir + "/in.jsonl")

        func straddling(_ threshold: Double?) throws -> (count: Int, validation: Int, stats: StageStats) {
            var formatter = CorpusFormatter()
            formatter.validationFraction = 0.3
            formatter.splitThreshold = threshold
            let out = dir + "/set-\(threshold ?? 0)"
            let stats = try formatter.run(input: dir + "/in.jsonl", output: out)
            func texts(_ file: String) throws -> Set<String> {
                Set(try readLines(out + "/" + file).map { line -> String in
                    guard case .object(let o) = try JSONParser.parse(Array(line.utf8)), case .string(let t)? = o["text"] else { return "" }
                    return t
                })
            }
            let train = try texts("train.jsonl")
            let validation = try texts("validation.jsonl")
            XCTAssertEqual(train.count + validation.count, 450)
            return (pairs.filter { train.contains($0.0) != train.contains($0.1) }.count, validation.count, stats)
        }
        let grouped = try straddling(0.5)
        XCTAssertEqual(grouped.count, 0, "near-copies on both sides of the split")
        XCTAssertGreaterThan(grouped.validation, 60)
        XCTAssertLessThan(grouped.validation, 220)
        XCTAssertGreaterThanOrEqual(grouped.stats.counters["split_near_duplicate_pairs"] ?? 0, 150)
        // The check can fail: by document alone, about 2 × 0.3 × 0.7 of the pairs straddle.
        let byDocument = try straddling(nil)
        XCTAssertGreaterThan(byDocument.count, 20)
    }
}
