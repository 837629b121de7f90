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
        var order = logits.indices.filter { logits[$0] > -.infinity }
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if p.topK > 0 && p.topK < logits.count { order = Array(order.prefix(p.topK)) }
        if p.topP < 1 {
            let m = Double(logits[order[0]])
            let e = order.map { exp(Double(logits[$0]) - m) }
            let z = e.reduce(0, +)
            var cumulative = 0.0
            for i in order.indices {
                cumulative += e[i] / z
                if cumulative >= Double(p.topP) {
                    order = Array(order.prefix(i + 1))
                    break
                }
            }
        }
        if p.minP > 0 {
            let m = Double(logits[order[0]])
            order = order.filter { exp(Double(logits[$0]) - m) >= Double(p.minP) }
        }
        return order.sorted()
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
