import XCTest
@testable import LoomGeneration

/// The two selection helpers against a full sort, on data with many ties and banned tokens.
final class SelectionTests: XCTestCase {
    private func rankOrder(_ logits: [Float]) -> [Int] {
        logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
    }

    /// Logits on a coarse grid so that ties are everywhere, some `-inf` and NaN.
    private func coarseLogits(count: Int, seed: UInt64) -> [Float] {
        var g = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in
            switch g.next() % 50 {
            case 0: return -.infinity
            case 1: return .nan
            default: return Float(Int(g.next() % 40)) * 0.25 - 5
            }
        }
    }

    func testTopSelectionMatchesFullSort() {
        for (count, seed) in [(1, 1), (15, 2), (16, 3), (17, 4), (1000, 5), (20_000, 6)] as [(Int, UInt64)] {
            let logits = coarseLogits(count: count, seed: seed)
            let clean = logits.map { $0.isNaN ? -Float.infinity : $0 }
            let order = rankOrder(clean)
            let finite = order.filter { clean[$0] > -.infinity }
            var out: [TokenCandidate] = []
            for k in [1, 2, 7, 40, 999, count, count + 5] {
                logits.withUnsafeBufferPointer {
                    TopSelection.select(k, from: $0, keepNegativeInfinity: false, sorted: true, into: &out)
                }
                XCTAssertEqual(out.map { Int($0.id) }, Array(finite.prefix(k)), "count \(count) k \(k)")
                logits.withUnsafeBufferPointer {
                    TopSelection.select(k, from: $0, keepNegativeInfinity: true, sorted: true, into: &out)
                }
                XCTAssertEqual(out.map { Int($0.id) }, Array(order.prefix(k)), "count \(count) k \(k) with -inf")
                logits.withUnsafeBufferPointer {
                    TopSelection.select(k, from: $0, keepNegativeInfinity: false, sorted: false, into: &out)
                }
                XCTAssertEqual(out.map { Int($0.id) }.sorted(), Array(finite.prefix(k)).sorted())
            }
        }
    }

    /// The bucketed cut against a sorted walk (double sums of the same float weights), for
    /// small lists (sorted path) and large ones (histogram path), with heavy ties.
    func testNucleusCutMatchesSortedWalk() {
        var cut = NucleusCut()
        for (count, seed) in [(10, 1), (64, 2), (65, 3), (500, 4), (30_000, 5)] as [(Int, UInt64)] {
            let logits = coarseLogits(count: count, seed: seed).map { $0.isNaN ? 0 : $0 }
            let finite = rankOrder(logits).filter { logits[$0] > -.infinity }
            let maxLogit = logits[finite[0]]
            let weights = finite.map { LogitScan.weight(logits[$0], max: maxLogit) }
            let total = weights.reduce(0, +)
            for p in [0.01, 0.3, 0.5, 0.77, 0.95, 0.999] {
                var expected = finite
                var cumulative = 0.0
                for (i, w) in weights.enumerated() {
                    cumulative += w
                    if cumulative >= p * total {
                        expected = Array(finite.prefix(i + 1))
                        break
                    }
                }
                // Shuffled input: the cut must not rely on any order.
                var candidates = finite.reversed().map { TokenCandidate(id: $0, logit: logits[$0]) }
                XCTAssertTrue(cut.cut(&candidates, target: p * total, maxLogit: maxLogit))
                XCTAssertEqual(candidates.map { Int($0.id) }.sorted(), expected.sorted(), "count \(count) p \(p)")
            }
            var all = finite.map { TokenCandidate(id: $0, logit: logits[$0]) }
            XCTAssertFalse(cut.cut(&all, target: total * 1.01, maxLogit: maxLogit))
            XCTAssertEqual(all.count, finite.count)
        }
    }
}
