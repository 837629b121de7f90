import Foundation

/// Accumulates llama-perplexity's `--kl-divergence` statistics position by position
/// (llama.cpp `tools/perplexity/perplexity.cpp`): KLD(base ‖ model), Δp of the correct
/// token, same-top-token rate and the two perplexities.
public struct KLDivergenceAccumulator {
    public private(set) var kld: [Double] = []
    public private(set) var deltaP: [Double] = []
    public private(set) var nll: [Double] = []
    public private(set) var baseNLL: [Double] = []
    public private(set) var sameTop = 0

    public init() {}

    /// Adds one position: the model's `logits`, the base's quantised `record` and the target.
    public mutating func add(logits: UnsafeBufferPointer<Float>, record: UnsafeBufferPointer<UInt16>, token: Int) {
        let (maxLogit, top) = LogSoftmax.maximum(logits)
        let logSumExp = Float(log(LogSoftmax.sumExp(logits, maxLogit: maxLogit)))
        let (scale, minLogProb) = LogProbFile.parameters(record)
        let q = UnsafeBufferPointer(rebasing: record[4..<(4 + logits.count)])
        let tokenNLL = Double(maxLogit + logSumExp - logits[token])
        let tokenBaseNLL = -Double(scale * Float(UInt16(littleEndian: q[token])) + minLogProb)
        let norm = maxLogit + logSumExp
        var sum = 0.0
        var baseTop = 0
        var baseTopLog = -Float.infinity
        for i in 0..<logits.count {
            let baseLog = scale * Float(UInt16(littleEndian: q[i])) + minLogProb
            if baseLog > baseTopLog {
                baseTopLog = baseLog
                baseTop = i
            }
            if baseLog > -16 {
                sum += Double(expf(baseLog)) * Double(baseLog - logits[i] + norm)
            }
        }
        kld.append(sum)
        nll.append(tokenNLL)
        baseNLL.append(tokenBaseNLL)
        deltaP.append(exp(-tokenNLL) - exp(-tokenBaseNLL))
        if top == baseTop { sameTop += 1 }
    }

    /// The summary statistics.
    public func report() -> KLDivergenceReport {
        let n = Double(kld.count)
        let sortedKLD = kld.sorted(), sortedDP = deltaP.sorted()
        let (meanKLD, kldError) = Statistics.meanAndError(kld)
        let (meanDP, dpError) = Statistics.meanAndError(deltaP)
        let meanNLL = nll.reduce(0, +) / n, meanBase = baseNLL.reduce(0, +) / n
        let logRatio = zip(nll, baseNLL).map { $0 - $1 }
        let (meanLogRatio, logRatioError) = Statistics.meanAndError(logRatio)
        var cov = 0.0, varA = 0.0, varB = 0.0
        for (a, b) in zip(nll, baseNLL) {
            cov += (a - meanNLL) * (b - meanBase)
            varA += (a - meanNLL) * (a - meanNLL)
            varB += (b - meanBase) * (b - meanBase)
        }
        let p = sameTop
        let sameRate = Double(p) / n
        func percentiles(_ s: [Double]) -> [String: Double] {
            ["max": s.last ?? .nan, "99.9": Statistics.quantile(s, 0.999), "99": Statistics.quantile(s, 0.99),
             "95": Statistics.quantile(s, 0.95), "90": Statistics.quantile(s, 0.90), "median": Statistics.quantile(s, 0.5),
             "10": Statistics.quantile(s, 0.10), "5": Statistics.quantile(s, 0.05), "1": Statistics.quantile(s, 0.01),
             "0.1": Statistics.quantile(s, 0.001), "min": s.first ?? .nan]
        }
        return KLDivergenceReport(
            positions: kld.count,
            perplexity: exp(meanNLL), basePerplexity: exp(meanBase),
            perplexityRatio: exp(meanLogRatio), meanLogPerplexityRatio: meanLogRatio, meanLogPerplexityRatioError: logRatioError,
            nllCorrelation: cov / max(sqrt(varA * varB), .leastNonzeroMagnitude),
            meanKLD: meanKLD, meanKLDError: kldError, kldPercentiles: percentiles(sortedKLD),
            meanDeltaP: meanDP, meanDeltaPError: dpError,
            rmsDeltaP: sqrt(deltaP.reduce(0) { $0 + $1 * $1 } / n), deltaPPercentiles: percentiles(sortedDP),
            sameTopRate: sameRate, sameTopRateError: sqrt(sameRate * (1 - sameRate) / max(n - 1, 1)))
    }
}

/// The KL-divergence summary of one model against the base file.
public struct KLDivergenceReport: Codable, Sendable, Equatable {
    public var positions: Int
    public var perplexity: Double
    public var basePerplexity: Double
    /// PPL(Q)/PPL(base) = exp(mean ln(PPL(Q)/PPL(base))).
    public var perplexityRatio: Double
    public var meanLogPerplexityRatio: Double
    public var meanLogPerplexityRatioError: Double
    /// Pearson correlation of the per-token NLLs (llama.cpp's "Cor(ln PPL(Q), ln PPL(base))").
    public var nllCorrelation: Double
    public var meanKLD: Double
    public var meanKLDError: Double
    /// Keys: max, 99.9, 99, 95, 90, median, 10, 5, 1, 0.1, min.
    public var kldPercentiles: [String: Double]
    /// Δp = p(correct token) − p_base(correct token).
    public var meanDeltaP: Double
    public var meanDeltaPError: Double
    public var rmsDeltaP: Double
    public var deltaPPercentiles: [String: Double]
    /// Fraction of positions where both models' most likely token agrees.
    public var sameTopRate: Double
    public var sameTopRateError: Double
}
