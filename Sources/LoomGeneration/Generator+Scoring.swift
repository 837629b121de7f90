import LoomModels

extension Generator {
    /// How likely the model finds `continuation` right after `context`: the sum of the
    /// continuation tokens' log-probabilities, and whether each was the model's top choice
    /// (lm-evaluation-harness's `is_greedy`). The context's cached prefix is reused, so
    /// scoring several continuations of one context evaluates the context once.
    /// - Throws: `GenerationError` for an empty context or continuation, or when both do not
    ///   fit the context.
    public func logLikelihood(context: [Int], continuation: [Int]) throws -> (logprob: Double, isGreedy: Bool) {
        guard !context.isEmpty else { throw GenerationError.emptyPrompt }
        guard !continuation.isEmpty else { throw GenerationError.invalidParameter("the continuation to score is empty") }
        let total = context.count + continuation.count - 1
        guard total <= session.capacity else {
            throw GenerationError.promptTooLong(tokens: total, context: session.capacity)
        }
        var sum = 0.0
        var greedy = true
        func score(_ logits: UnsafeBufferPointer<Float>, _ token: Int) {
            let (logprob, isTop) = Self.logSoftmax(logits, at: token)
            sum += logprob
            greedy = greedy && isTop
        }
        score(try evaluatePrompt(context), continuation[0])
        if continuation.count > 1 {
            let rest = Array(continuation.dropLast())
            try session.evaluate(rest) { index, logits in score(logits, continuation[index + 1]) }
            appendCached(rest)
        }
        return (sum, greedy)
    }

    /// `log softmax(logits)[token]` in double precision, and whether `token` is the argmax.
    static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, at token: Int) -> (Double, Bool) {
        var maxValue = -Float.infinity
        for v in logits where v > maxValue { maxValue = v }
        var total = 0.0
        for v in logits { total += Foundation.exp(Double(v - maxValue)) }
        return (Double(logits[token] - maxValue) - Foundation.log(total), logits[token] >= maxValue)
    }
}

import Foundation
