#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks the next token from a model's logits, following llama.cpp's common sampler chain.
///
/// Chain, in order (each step as defined by llama.cpp's `llama_sampler_*` of the same name):
/// 1. **logit bias**: `logit[id] += bias`.
/// 2. **penalties** over the last ``SamplingParameters/penaltyLastN`` tokens of `history`, for
///    every token id seen there `count` times: `logit = logit <= 0 ? logit * repeat : logit / repeat`,
///    then `logit -= count * frequency + (count > 0 ? presence : 0)`.
/// 3. if `temperature == 0`: **argmax**, ties to the lowest id. Otherwise:
/// 4. **top-k**: keep the `k` best tokens.
/// 5. **top-p**: on the softmax of the survivors (renormalised, before temperature), keep the
///    smallest prefix of the sorted list whose cumulative probability is ≥ `topP`.
/// 6. **min-p**: keep tokens with `logit ≥ max + ln(minP)`, i.e. `p ≥ minP · p_max` (llama.cpp
///    evaluates it in this logit form too; it is the same set up to float rounding).
/// 7. **temperature** and softmax over the survivors, then a draw from the seeded generator.
///
/// Deliberate differences from llama.cpp, none of which changes a well-defined distribution:
/// ties in the sort order are broken by lower token id (llama.cpp leaves them to
/// `std::partial_sort`, so which of two equal logits survives a top-k cut is unspecified there);
/// top-p weights come from a vectorised exp (``VectorExp``, ≤ 2 ulp) summed in double precision
/// in bucket order (llama.cpp: libm `expf`, float sums in sorted order), which can move the cut
/// only when a cumulative probability lies within about 1e-6 (relative) of `topP`; and the draw
/// uses xoshiro256** rather than `std::mt19937`, so a seed gives different tokens than in
/// llama.cpp (but the same tokens on every platform Loom runs on).
///
/// Degenerate input: NaN logits count as `-inf` (never chosen) and `+inf` as the largest finite
/// float. If bias and penalties leave every token at `-inf`, the sampler falls back to the
/// argmax of the caller's logits without bias or penalties (token 0 if those are all NaN/`-inf`
/// too), so it always returns a valid id. History ids and bias ids outside the vocabulary are
/// ignored (``SamplingParameters/validate(vocabularySize:)`` reports bias ids up front).
///
/// Performance: the whole-vocabulary work is a sanitising copy into one reusable buffer, one max
/// pass and one selection or threshold pass (plus one vectorised exp pass when top-p runs without
/// top-k, or when no filter runs at all); only candidate lists are sorted, and large ones only
/// within one histogram bucket (see ``NucleusCut``). No vocabulary-sized array is allocated per
/// call: the scratch buffers are kept and reused across calls.
public struct Sampler: Sendable {
    /// The validated parameters this sampler was built with.
    public let parameters: SamplingParameters
    /// The seed actually used: ``SamplingParameters/seed`` if set, otherwise a random one drawn
    /// from `SystemRandomNumberGenerator` (report it to let a user reproduce a run).
    public let seed: UInt64

    private var rng: Xoshiro256StarStar
    /// Vocabulary-sized scratch copy of the logits with bias and penalties applied.
    private var work: [Float] = []
    /// Survivors of the filters; as small as the filters make it, vocabulary-sized at worst.
    private var candidates: [TokenCandidate] = []
    /// Occurrence counts of the penalty window, reused across calls.
    private var windowCounts: [Int: Int] = [:]
    /// Scratch of the top-p cut.
    private var nucleus = NucleusCut()

    /// Creates a sampler; throws a ``SamplingError`` naming the field if `parameters` is invalid.
    public init(parameters: SamplingParameters) throws {
        self.parameters = try parameters.validated()
        if let seed = parameters.seed {
            self.seed = seed
        } else {
            var system = SystemRandomNumberGenerator()
            self.seed = system.next()
        }
        rng = Xoshiro256StarStar(seed: seed)
    }

    /// Picks the next token from raw logits (vocab-sized) given previously seen tokens (prompt +
    /// generated). Does not modify the caller's logits.
    ///
    /// `logits` must not be empty (a model always has a vocabulary); an empty buffer is a
    /// programming error and stops the process with a message.
    public mutating func sample(logits: UnsafeBufferPointer<Float>, history: [Int]) -> Int {
        guard !logits.isEmpty else {
            fatalError("Sampler.sample: empty logits (the vocabulary size must be > 0)")
        }
        var work = takeWork(count: logits.count)
        defer { self.work = work }
        return work.withUnsafeMutableBufferPointer { buffer in
            prepare(logits, history: history, into: buffer)
            let scores = UnsafeBufferPointer(buffer)
            let maxLogit = LogitScan.maximum(scores)
            guard maxLogit > -.infinity else { return Self.fallback(logits) }
            if parameters.temperature == 0 {
                return LogitScan.firstIndex(of: maxLogit, in: scores) ?? 0
            }
            if filter(scores, maxLogit: maxLogit) {
                return drawFromCandidates(maxLogit: maxLogit)
            }
            return drawFromAll(buffer, maxLogit: maxLogit)
        }
    }

    /// Array convenience for ``sample(logits:history:)-(UnsafeBufferPointer<Float>,_)``.
    public mutating func sample(logits: [Float], history: [Int]) -> Int {
        logits.withUnsafeBufferPointer { sample(logits: $0, history: history) }
    }

    // MARK: - Test hooks

    /// The logits after steps 1–2 of the chain (sanitising, logit bias, penalties), as the
    /// filters see them. Exposed for tests.
    mutating func adjustedLogits(_ logits: [Float], history: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { prepare(source, history: history, into: $0) }
        }
        return out
    }

    /// The ids that survive top-k, top-p and min-p (steps 4–6), ascending; the whole finite
    /// vocabulary if no filter is active. Ignores `temperature`. Exposed for tests.
    mutating func survivingTokens(_ logits: [Float], history: [Int]) -> [Int] {
        let scores = adjustedLogits(logits, history: history)
        return scores.withUnsafeBufferPointer { buffer -> [Int] in
            let maxLogit = LogitScan.maximum(buffer)
            guard maxLogit > -.infinity else { return [] }
            if filter(buffer, maxLogit: maxLogit) {
                return candidates.map { Int($0.id) }.sorted()
            }
            return buffer.indices.filter { buffer[$0] > -.infinity }
        }
    }

    // MARK: - Chain steps

    /// Moves the scratch buffer out of `self` (so it can be written while `self` is used) and
    /// sizes it to the vocabulary; it only reallocates when the vocabulary size changes.
    private mutating func takeWork(count: Int) -> [Float] {
        var buffer: [Float] = []
        swap(&buffer, &work)
        if buffer.count != count {
            buffer = [Float](repeating: 0, count: count)
        }
        return buffer
    }

    /// Steps 1–2: sanitised copy of `logits` into `out`, then logit bias, then penalties.
    private mutating func prepare(
        _ logits: UnsafeBufferPointer<Float>, history: [Int], into out: UnsafeMutableBufferPointer<Float>
    ) {
        LogitScan.copySanitized(logits, to: out)
        let n = out.count
        for (token, bias) in parameters.logitBias where token >= 0 && token < n {
            // -inf + +inf would be NaN: a token the model rules out stays ruled out.
            out[token] = LogitScan.sanitized(out[token] + bias)
        }
        applyPenalties(history: history, to: out)
    }

    private mutating func applyPenalties(history: [Int], to out: UnsafeMutableBufferPointer<Float>) {
        let p = parameters
        let window = p.penaltyLastN == -1 ? history.count : min(p.penaltyLastN, history.count)
        guard window > 0,
              p.repetitionPenalty != 1 || p.frequencyPenalty != 0 || p.presencePenalty != 0
        else { return }
        let n = out.count
        windowCounts.removeAll(keepingCapacity: true)
        for token in history[(history.count - window)...] where token >= 0 && token < n {
            windowCounts[token, default: 0] += 1
        }
        for (token, count) in windowCounts {
            var logit = out[token]
            // llama.cpp: dividing a negative logit would make the token *more* likely.
            if logit <= 0 {
                logit *= p.repetitionPenalty
            } else {
                logit /= p.repetitionPenalty
            }
            logit -= Float(count) * p.frequencyPenalty + Float(count > 0 ? 1 : 0) * p.presencePenalty
            out[token] = LogitScan.sanitized(logit)
        }
    }

    /// Steps 4–6. Returns true with the survivors in `candidates`, or false when no filter is
    /// active and every finite token remains (then the draw runs over `scores` directly, with no
    /// candidate list at all).
    private mutating func filter(_ scores: UnsafeBufferPointer<Float>, maxLogit: Float) -> Bool {
        let p = parameters
        let topKActive = p.topK > 0 && p.topK < scores.count
        let topPActive = p.topP < 1
        let minPActive = p.minP > 0
        let minPThreshold = maxLogit + logf(p.minP)

        if topKActive {
            TopSelection.select(p.topK, from: scores, keepNegativeInfinity: false, sorted: false, into: &candidates)
            if topPActive {
                // llama.cpp renormalises over the top-k survivors before the top-p cut.
                var total = 0.0
                for c in candidates { total += LogitScan.weight(c.logit, max: maxLogit) }
                _ = nucleus.cut(&candidates, target: Double(p.topP) * total, maxLogit: maxLogit)
            }
            if minPActive { cutMinP(threshold: minPThreshold) }
            return true
        }
        if minPActive {
            // Both filters keep a prefix of the same sorted order, so the result is the shorter
            // prefix: collect the (usually small) min-p set and cut top-p inside it; if the set
            // never reaches the top-p mass, all of it stays.
            LogitScan.collect(atLeast: minPThreshold, from: scores, into: &candidates)
            if topPActive {
                let total = LogitScan.sumOfExponentials(scores, max: maxLogit)
                _ = nucleus.cut(&candidates, target: Double(p.topP) * total, maxLogit: maxLogit)
            }
            return true
        }
        if topPActive {
            // Collect only the tokens within d nats of the max, for the smallest profiled d whose
            // mass holds the nucleus (then widen step by step if rounding says otherwise); the
            // last try takes every finite token, and if even those fall short they all stay.
            let profile = LogitScan.massProfile(scores, max: maxLogit)
            let target = Double(p.topP) * profile.total
            let distances = LogitScan.profileDistances
            var step = distances.indices.first { profile.within[$0] >= target } ?? distances.count
            while true {
                let everything = step >= distances.count
                LogitScan.collect(atLeast: everything ? -.greatestFiniteMagnitude : maxLogit - distances[step],
                                  from: scores, into: &candidates)
                if nucleus.cut(&candidates, target: target, maxLogit: maxLogit) || everything { return true }
                step += 1
            }
        }
        return false
    }

    /// Min-p on `candidates` (any order): keeps logits ≥ `threshold`. The max always survives.
    private mutating func cutMinP(threshold: Float) {
        candidates.removeAll { $0.logit < threshold }
    }

    /// Step 7 over `candidates`: softmax at the sampler's temperature and a draw.
    private mutating func drawFromCandidates(maxLogit: Float) -> Int {
        let t = Double(parameters.temperature)
        let m = Double(maxLogit)
        var total = 0.0
        for c in candidates { total += exp((Double(c.logit) - m) / t) }
        let target = rng.nextUnitDouble() * total
        var cumulative = 0.0
        var lastPositive = Int(candidates[0].id)
        for c in candidates {
            let w = exp((Double(c.logit) - m) / t)
            cumulative += w
            if w > 0 { lastPositive = Int(c.id) }
            if target < cumulative { return Int(c.id) }
        }
        // Only reachable through rounding when `target` lands on the total.
        return lastPositive
    }

    /// Step 7 over the whole vocabulary (no filter active): the weights overwrite the scratch
    /// buffer, and the draw skips whole blocks by their sums (the same sums that make the total).
    private mutating func drawFromAll(_ scores: UnsafeMutableBufferPointer<Float>, maxLogit: Float) -> Int {
        let total = LogitScan.exponentiateInPlace(scores, max: maxLogit, temperature: parameters.temperature)
        let weights = UnsafeBufferPointer(scores)
        let target = rng.nextUnitDouble() * total
        let n = weights.count
        var cumulative = 0.0
        var start = 0
        while start < n {
            let end = min(start + LogitScan.blockSize, n)
            let block = LogitScan.blockSum(weights, start, end)
            if cumulative + block <= target {
                cumulative += block
                start = end
                continue
            }
            var lastPositive = start
            for i in start..<end where weights[i] > 0 {
                cumulative += Double(weights[i])
                lastPositive = i
                if target < cumulative { return i }
            }
            return lastPositive  // the in-block sum fell short of the block sum by rounding
        }
        // `target` rounded up to the total: the last token with any weight.
        return weights.lastIndex { $0 > 0 } ?? 0
    }

    /// Every token is at `-inf` after bias and penalties: argmax of the caller's logits.
    private static func fallback(_ logits: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestLogit = -Float.infinity
        for (i, l) in logits.enumerated() where l > bestLogit {
            best = i
            bestLogit = l
        }
        return best
    }
}
