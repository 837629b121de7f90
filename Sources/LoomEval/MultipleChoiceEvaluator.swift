import Foundation
import LoomKernels
import LoomModels

/// The score of one choice.
public struct ChoiceScore: Codable, Sendable, Equatable {
    /// Σ log p(continuation tokens | context, earlier continuation tokens).
    public var logLikelihood: Double
    /// Whether every continuation token was the argmax (lm-eval's `is_greedy`).
    public var isGreedy: Bool
    public var tokenCount: Int
}

/// One question's outcome.
public struct MultipleChoiceResult: Codable, Sendable {
    public var id: String
    public var category: String
    public var answer: Int
    public var scores: [ChoiceScore]
    /// argmax of the log-likelihoods.
    public var predicted: Int
    /// argmax of log-likelihood / characters of the choice (lm-eval's acc_norm).
    public var predictedNormalized: Int
    /// argmax of log-likelihood / UTF-8 bytes of the choice (lm-eval's byte-normalised variant).
    public var predictedByteNormalized: Int
}

/// Accuracy over a set of questions.
public struct AccuracySummary: Codable, Sendable, Equatable {
    public var count: Int
    public var acc: Double
    public var accStderr: Double
    public var accNorm: Double
    public var accNormStderr: Double
    public var accBytes: Double

    init(_ results: [MultipleChoiceResult]) {
        count = results.count
        let n = Double(max(results.count, 1))
        func rate(_ hit: (MultipleChoiceResult) -> Bool) -> Double { Double(results.filter(hit).count) / n }
        func stderr(_ p: Double) -> Double { results.count > 1 ? sqrt(p * (1 - p) / (n - 1)) : 0 }
        acc = rate { $0.predicted == $0.answer }
        accNorm = rate { $0.predictedNormalized == $0.answer }
        accBytes = rate { $0.predictedByteNormalized == $0.answer }
        accStderr = stderr(acc)
        accNormStderr = stderr(accNorm)
    }
}

/// One model's multiple-choice report.
public struct MultipleChoiceReport: Codable, Sendable {
    public var model: String
    public var fewShot: Int
    public var overall: AccuracySummary
    public var categories: [String: AccuracySummary]
    public var results: [MultipleChoiceResult]
    public var seconds: Double
}

/// Multiple choice by log-likelihood with lm-evaluation-harness semantics
/// (EleutherAI/lm-evaluation-harness `lm_eval/api/task.py`, `lm_eval/api/model.py`).
///
/// The context is `"Question: {q}\nAnswer:"` (preceded by `fewShot` solved examples separated
/// by blank lines), each continuation is `" " + choice`. As lm-eval's `_encode_pair`:
/// context tokens = encode(context), continuation tokens = encode(context + continuation)
/// minus that many leading tokens; the model sees context + continuation. The context is
/// evaluated once per question and every choice continues from the cached prefix.
public final class MultipleChoiceEvaluator {
    public let model: LanguageModel
    let session: InferenceSession
    private var contextLogits: [Float] = []

    public init(model: LanguageModel, contextLength: Int = 2048, pool: ThreadPool = ThreadPool()) throws {
        self.model = model
        session = try model.makeSession(contextLength: contextLength, pool: pool)
    }

    /// The prompt text for `item` with `examples` as solved shots.
    public static func context(for item: MultipleChoiceItem, examples: [MultipleChoiceItem] = []) -> String {
        let shots = examples.map { "Question: \($0.question)\nAnswer: \($0.choices[$0.answer])\n\n" }.joined()
        return shots + "Question: \(item.question)\nAnswer:"
    }

    /// Context and continuation token ids as lm-eval's `_encode_pair` makes them.
    public func encodePair(context: String, continuation: String) -> (context: [Int], continuation: [Int]) {
        var context = context, continuation = continuation
        // Trailing whitespace of the context belongs to the continuation.
        while let last = context.last, last == " " {
            context.removeLast()
            continuation = " " + continuation
        }
        let tokenizer = model.tokenizer
        let prefix: [Int] = tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        let contextTokens = tokenizer.encode(context, addSpecial: false, parseSpecial: false)
        let whole = tokenizer.encode(context + continuation, addSpecial: false, parseSpecial: false)
        var contextIDs = prefix + contextTokens
        if contextIDs.isEmpty, let fallback = tokenizer.bosID ?? tokenizer.eosID { contextIDs = [fallback] }
        return (contextIDs, Array(whole.dropFirst(contextTokens.count)))
    }

    /// Log-likelihoods of every choice of `item`.
    public func score(_ item: MultipleChoiceItem, examples: [MultipleChoiceItem] = []) throws -> MultipleChoiceResult {
        let context = Self.context(for: item, examples: examples)
        let pairs = item.choices.map { encodePair(context: context, continuation: " " + $0) }
        let contextIDs = pairs[0].context
        let longest = pairs.map { $0.continuation.count }.max() ?? 0
        guard contextIDs.count + longest <= session.capacity else {
            throw EvalError.invalidParameter("question \(item.id) needs \(contextIDs.count + longest) tokens; the context holds \(session.capacity)")
        }
        session.reset()
        contextLogits = Array(try session.evaluate(contextIDs))
        var scores: [ChoiceScore] = []
        for pair in pairs {
            scores.append(try continuationScore(contextCount: contextIDs.count, continuation: pair.continuation))
        }
        func best(_ value: (Int) -> Double) -> Int {
            var index = 0
            for i in 1..<scores.count where value(i) > value(index) { index = i }
            return index
        }
        return MultipleChoiceResult(
            id: item.id, category: item.category, answer: item.answer, scores: scores,
            predicted: best { scores[$0].logLikelihood },
            predictedNormalized: best { scores[$0].logLikelihood / Double(max(item.choices[$0].count, 1)) },
            predictedByteNormalized: best { scores[$0].logLikelihood / Double(max(item.choices[$0].utf8.count, 1)) })
    }

    private func continuationScore(contextCount: Int, continuation: [Int]) throws -> ChoiceScore {
        guard !continuation.isEmpty else { return ChoiceScore(logLikelihood: 0, isGreedy: true, tokenCount: 0) }
        var total = 0.0
        var greedy = true
        func add(_ logits: UnsafeBufferPointer<Float>, _ target: Int) {
            total -= LogSoftmax.negativeLogLikelihood(logits, token: target)
            if LogSoftmax.maximum(logits).1 != target { greedy = false }
        }
        contextLogits.withUnsafeBufferPointer { add($0, continuation[0]) }
        if continuation.count > 1 {
            session.truncate(to: contextCount)
            try session.evaluate(Array(continuation.dropLast())) { position, logits in
                add(logits, continuation[position + 1])
            }
        }
        return ChoiceScore(logLikelihood: total, isGreedy: greedy, tokenCount: continuation.count)
    }

    /// Scores every item; few-shot examples are the first `fewShot` other items of the same
    /// category (falling back to any other items), so no question is its own example.
    public func run(_ items: [MultipleChoiceItem], fewShot: Int = 0, modelName: String? = nil,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> MultipleChoiceReport {
        guard fewShot >= 0 else { throw EvalError.invalidParameter("--fewshot must be ≥ 0, got \(fewShot)") }
        let start = Date()
        var results: [MultipleChoiceResult] = []
        for (index, item) in items.enumerated() {
            var shots = items.filter { $0.category == item.category && $0.id != item.id }.prefix(fewShot).map { $0 }
            if shots.count < fewShot {
                shots += items.filter { $0.category != item.category && $0.id != item.id }.prefix(fewShot - shots.count)
            }
            results.append(try score(item, examples: shots))
            progress(index + 1, items.count)
        }
        var categories: [String: AccuracySummary] = [:]
        for category in Set(results.map(\.category)) {
            categories[category] = AccuracySummary(results.filter { $0.category == category })
        }
        return MultipleChoiceReport(model: modelName ?? model.config.name, fewShot: fewShot, overall: AccuracySummary(results),
                                    categories: categories, results: results, seconds: Date().timeIntervalSince(start))
    }
}
