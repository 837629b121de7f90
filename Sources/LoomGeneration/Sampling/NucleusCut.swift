/// Top-p ("nucleus") cut of a candidate list without sorting it.
///
/// The definition (llama.cpp's `llama_sampler_top_p`): sort by probability, keep the smallest
/// prefix whose cumulative probability is ≥ p. Sorting tens of thousands of candidates costs
/// milliseconds per token, so instead the candidates' weights are binned by logit into 1024
/// buckets between the max and the smallest candidate logit; a walk over the bucket masses finds
/// the bucket where the cumulative mass crosses the target. Every candidate in an earlier bucket
/// has a larger logit than everything after it, so it is in the prefix; only the crossing bucket
/// is sorted (by the sampler's order: logit, then id) and walked token by token.
///
/// The kept set is the same as a sorted walk over the same float weights would keep, except when
/// a cumulative sum lies within double rounding (~1e-16 relative) of the target, since the sums
/// run in a different order.
struct NucleusCut: Sendable {
    private static let bucketCount = 1024
    /// Up to this many candidates are simply sorted and walked.
    private static let sortLimit = 64

    private var buckets = [Double](repeating: 0, count: NucleusCut.bucketCount)
    private var weights: [Float] = []
    private var boundary: [TokenCandidate] = []

    /// Keeps (in any order) the smallest prefix of `candidates` in sampler order whose total
    /// weight `exp(logit - maxLogit)` is ≥ `target`. `maxLogit` must be the largest candidate
    /// logit. Returns false, leaving `candidates` alone, if all of them together stay below it.
    mutating func cut(_ candidates: inout [TokenCandidate], target: Double, maxLogit: Float) -> Bool {
        let n = candidates.count
        if n <= Self.sortLimit {
            candidates.sort(by: TokenCandidate.ranksBefore)
            var cumulative = 0.0
            for i in 0..<n {
                cumulative += LogitScan.weight(candidates[i].logit, max: maxLogit)
                if cumulative >= target {
                    candidates.removeSubrange((i + 1)...)
                    return true
                }
            }
            return false
        }
        computeWeights(candidates, maxLogit: maxLogit)
        var lowest = maxLogit
        for c in candidates where c.logit < lowest { lowest = c.logit }
        // Doubles: the span of two finite floats can overflow a float.
        let top = Double(maxLogit)
        let span = top - Double(lowest)
        let scale = span > 0 ? Double(Self.bucketCount) / span : 0
        let last = Self.bucketCount - 1
        @inline(__always) func bucket(_ logit: Float) -> Int {
            min(Int((top - Double(logit)) * scale), last)
        }
        for b in buckets.indices { buckets[b] = 0 }
        for i in 0..<n { buckets[bucket(candidates[i].logit)] += Double(weights[i]) }

        var cumulative = 0.0
        var crossing = -1
        for b in buckets.indices {
            if cumulative + buckets[b] >= target {
                crossing = b
                break
            }
            cumulative += buckets[b]
        }
        guard crossing >= 0 else { return false }

        // Compact the buckets before the crossing to the front; set the crossing one aside.
        boundary.removeAll(keepingCapacity: true)
        var kept = 0
        for i in 0..<n {
            let b = bucket(candidates[i].logit)
            if b < crossing {
                candidates[kept] = candidates[i]
                kept += 1
            } else if b == crossing {
                boundary.append(candidates[i])
            }
        }
        boundary.sort(by: TokenCandidate.ranksBefore)
        for c in boundary {
            candidates[kept] = c
            kept += 1
            cumulative += LogitScan.weight(c.logit, max: maxLogit)
            if cumulative >= target { break }
        }
        candidates.removeSubrange(kept...)
        return true
    }

    /// `weights[i] = exp(candidates[i].logit - maxLogit)`, 16 at a time (bit-identical to
    /// ``LogitScan/weight(_:max:)``, which is lane 0 of the same function).
    private mutating func computeWeights(_ candidates: [TokenCandidate], maxLogit: Float) {
        let n = candidates.count
        if weights.count < n { weights = [Float](repeating: 0, count: n) }
        let m16 = SIMD16<Float>(repeating: maxLogit)
        var i = 0
        while i + 16 <= n {
            var v = SIMD16<Float>()
            for j in 0..<16 { v[j] = candidates[i + j].logit }
            let w = VectorExp.exp(v - m16)
            for j in 0..<16 { weights[i + j] = w[j] }
            i += 16
        }
        while i < n {
            weights[i] = VectorExp.exp(candidates[i].logit - maxLogit)
            i += 1
        }
    }
}
