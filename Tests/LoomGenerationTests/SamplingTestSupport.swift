import Foundation
@testable import LoomGeneration

/// Independent (naive, double-precision, full-sort) references and statistics for the sampler tests.
enum SamplingReference {
    /// softmax(logits / t) in double precision, with `-inf` entries at probability 0.
    static func softmax(_ logits: [Float], temperature t: Double = 1) -> [Double] {
        let m = Double(logits.max()!)
        let e = logits.map { $0 == -.infinity ? 0 : exp((Double($0) - m) / t) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    /// The filters of the chain by their textbook definitions: full sort (logit desc, id asc),
    /// top-k prefix, top-p prefix on the renormalised softmax, min-p against the max probability.
    static func survivors(_ logits: [Float], _ p: SamplingParameters) -> [Int] {
        acceptableSurvivors(logits, p, relativeTolerance: 0)[0]
    }

    /// Every survivor set the definitions allow when the top-p comparison `cumulative ≥ p` may
    /// be off by `relativeTolerance` (float sums and a 2-ulp exp can move a cut whose cumulative
    /// sum lies that close to p). The first entry is the exact-arithmetic answer.
    static func acceptableSurvivors(_ logits: [Float], _ p: SamplingParameters, relativeTolerance eps: Double) -> [[Int]] {
        var order = logits.indices.filter { logits[$0] > -.infinity }
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if p.topK > 0 && p.topK < logits.count { order = Array(order.prefix(p.topK)) }
        let m = Double(logits[order[0]])
        let e = order.map { exp(Double(logits[$0]) - m) }
        var minPLength = order.count
        if p.minP > 0 {
            minPLength = e.firstIndex { $0 < Double(p.minP) } ?? order.count
        }
        var topPLengths = [order.count]
        if p.topP < 1 {
            let z = e.reduce(0, +)
            var cumulative: [Double] = []
            var running = 0.0
            for w in e {
                running += w / z
                cumulative.append(running)
            }
            let target = Double(p.topP)
            let exact = (cumulative.firstIndex { $0 >= target } ?? order.count - 1) + 1
            topPLengths = [exact]
            for length in 1...order.count where length != exact {
                let reaches = cumulative[length - 1] >= target * (1 - eps)
                let notBefore = length == 1 || cumulative[length - 2] < target * (1 + eps)
                if reaches && notBefore { topPLengths.append(length) }
            }
        }
        var results: [[Int]] = []
        for length in topPLengths {
            let set = order.prefix(min(length, minPLength)).sorted()
            if !results.contains(set) { results.append(set) }
        }
        return results
    }

    /// Upper critical value of the chi-square distribution with `df` degrees of freedom at
    /// tail probability 1e-6 (z = 4.7534), by the Wilson–Hilferty cube approximation, accurate
    /// to a few percent for df ≥ 2 — far finer than the gap between a right and a wrong sampler.
    static func chiSquareCritical(df: Int) -> Double {
        let z = 4.7534
        let k = Double(df)
        let c = 1 - 2 / (9 * k) + z * (2 / (9 * k)).squareRoot()
        return k * c * c * c
    }

    static func chiSquare(counts: [Int], expected probabilities: [Double]) -> Double {
        let n = Double(counts.reduce(0, +))
        var x2 = 0.0
        for (c, p) in zip(counts, probabilities) where p > 0 {
            let e = n * p
            x2 += (Double(c) - e) * (Double(c) - e) / e
        }
        return x2
    }

    /// Deterministic test data: `count` logits ~ N(0, sd²) from a seeded generator.
    static func gaussianLogits(count: Int, sd: Double, seed: UInt64) -> [Float] {
        var g = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in
            let u1 = 1 - g.nextUnitDouble(), u2 = g.nextUnitDouble()
            return Float(sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }
}
