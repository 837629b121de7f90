#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Log-probabilities of the model's raw distribution, for OpenAI-style `logprobs` output.
public enum Logprobs {
    /// log-softmax of the raw logits (no penalties, no temperature), returns the chosen token's
    /// logprob and the `n` best alternatives (sorted, ties by lower id).
    ///
    /// The normaliser uses ``VectorExp`` (within 2 ulp) with block sums in double precision, so
    /// logprobs are accurate to about 1e-6 absolute. Edge cases, chosen so the result is
    /// always defined: `n ≤ 0` gives no alternatives and `n` above the vocabulary size gives the
    /// whole vocabulary; NaN logits count as `-inf` (probability 0); if some logits are `+inf`
    /// they share the probability mass equally; if every logit is `-inf` (or the buffer is
    /// empty) every logprob is `-inf`; a `chosen` id outside the vocabulary gets `-inf`.
    public static func top(_ logits: UnsafeBufferPointer<Float>, chosen: Int, n: Int) -> (chosen: TokenLogprob, top: [TokenLogprob]) {
        let logProb = normaliser(logits)
        var best: [TokenCandidate] = []
        TopSelection.select(max(n, 0), from: logits, keepNegativeInfinity: true, sorted: true, into: &best)
        let chosenLogprob = chosen >= 0 && chosen < logits.count ? logProb(logits[chosen]) : -.infinity
        return (
            TokenLogprob(id: chosen, logprob: chosenLogprob),
            best.map { TokenLogprob(id: Int($0.id), logprob: logProb($0.logit)) }
        )
    }

    /// Array convenience for ``top(_:chosen:n:)-(UnsafeBufferPointer<Float>,_,_)``.
    public static func top(_ logits: [Float], chosen: Int, n: Int) -> (chosen: TokenLogprob, top: [TokenLogprob]) {
        logits.withUnsafeBufferPointer { top($0, chosen: chosen, n: n) }
    }

    /// Returns the map logit → log-probability for this vocabulary.
    private static func normaliser(_ logits: UnsafeBufferPointer<Float>) -> (Float) -> Float {
        let hasNaN = LogitScan.containsNaN(logits)
        var maxLogit = -Float.infinity
        if hasNaN {
            for l in logits where l > maxLogit { maxLogit = l }  // `>` skips NaN
        } else {
            maxLogit = LogitScan.maximum(logits)
        }
        if maxLogit == -.infinity {
            return { _ in -.infinity }
        }
        if maxLogit == .infinity {
            let count = logits.reduce(0) { $0 + ($1 == .infinity ? 1 : 0) }
            let share = Float(-log(Double(count)))
            return { $0 == .infinity ? share : -.infinity }
        }
        let total: Double
        if hasNaN {
            total = logits.reduce(0.0) { $1.isNaN ? $0 : $0 + LogitScan.weight($1, max: maxLogit) }
        } else {
            total = LogitScan.sumOfExponentials(logits, max: maxLogit)
        }
        let logZ = Double(maxLogit) + log(total)
        return { $0.isNaN ? -.infinity : Float(Double($0) - logZ) }
    }
}
