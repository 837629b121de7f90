import Foundation

/// llama.cpp's log-softmax arithmetic (examples/perplexity/perplexity.cpp): maximum and
/// differences in float, the sum of exponentials in double. Using the same rounding keeps
/// Loom's perplexity comparable digit for digit with llama-perplexity's.
public enum LogSoftmax {
    /// The negative log-probability of `token` under `logits`.
    public static func negativeLogLikelihood(_ logits: UnsafeBufferPointer<Float>, token: Int) -> Double {
        let (maxLogit, _) = maximum(logits)
        let sum = sumExp(logits, maxLogit: maxLogit)
        return Double(maxLogit) + log(sum) - Double(logits[token])
    }

    /// The largest logit and its index (first one on ties).
    public static func maximum(_ logits: UnsafeBufferPointer<Float>) -> (Float, Int) {
        var best = logits[0], index = 0
        for i in 1..<logits.count where logits[i] > best {
            best = logits[i]
            index = i
        }
        return (best, index)
    }

    /// Σ exp(l − max), accumulated in double.
    public static func sumExp(_ logits: UnsafeBufferPointer<Float>, maxLogit: Float) -> Double {
        var sum = 0.0
        for l in logits { sum += Double(expf(l - maxLogit)) }
        return sum
    }

    /// log p for every entry, in double.
    public static func logProbabilities(_ logits: UnsafeBufferPointer<Float>) -> [Double] {
        let (m, _) = maximum(logits)
        let lse = Double(m) + log(sumExp(logits, maxLogit: m))
        return logits.map { Double($0) - lse }
    }
}
