import Foundation
import LoomGeneration
import LoomKernels
import LoomModels

/// One question/answer pair (a line of a `qa.jsonl` file, see Datasets/README.md).
public struct QAItem: Codable, Sendable, Equatable {
    public var id: String
    public var category: String
    public var system: String?
    public var question: String
    public var answer: String

    /// Loads a `qa.jsonl` file; bad lines become issues (or, with `strict`, an error).
    public static func load(path: String, strict: Bool = false) throws -> (items: [QAItem], issues: [JSONLines.Issue]) {
        try JSONLines.read(path: path, strict: strict) { object, line in
            QAItem(id: (object["id"] as? String) ?? "line\(line)", category: (object["category"] as? String) ?? "general",
                   system: object["system"] as? String,
                   question: try JSONLines.string(object, "question", path: path, line: line),
                   answer: try JSONLines.string(object, "answer", path: path, line: line))
        }
    }
}

/// One pair's outcome.
public struct QAResult: Codable, Sendable {
    public var id: String
    public var category: String
    /// Σ −log p over the reference answer's tokens, teacher-forced after the chat prompt.
    public var answerNLL: Double
    public var answerTokens: Int
    /// exp(answerNLL / answerTokens).
    public var answerPerplexity: Double
    /// The reference answer from the dataset.
    public var reference: String
    /// The model's greedy answer (empty when generation was skipped).
    public var generated: String
    /// Tokens the model generated.
    public var generatedTokens: Int
    /// BERTScore of `generated` against `reference`, when scored.
    public var bertScore: BERTScore?
}

/// How BERTScore was computed, recorded in the report.
public struct BERTScoreSettings: Codable, Sendable, Equatable {
    /// The encoder checkpoint path.
    public var model: String
    public var layer: Int
    public var idf: Bool
    public var baseline: BERTScoreBaseline?

    public init(model: String, layer: Int, idf: Bool, baseline: BERTScoreBaseline?) {
        self.model = model
        self.layer = layer
        self.idf = idf
        self.baseline = baseline
    }
}

/// One model's QA report.
public struct QAReport: Codable, Sendable {
    public var model: String
    /// exp(Σ NLL / Σ tokens) over every reference answer (token-weighted).
    public var answerPerplexity: Double
    /// Mean of the per-answer perplexities.
    public var meanItemPerplexity: Double
    /// Mean BERTScore P, R and F1 over the pairs (nil when not scored; NaN components skipped).
    public var bertScore: BERTScore?
    public var bertSettings: BERTScoreSettings?
    public var results: [QAResult]
    public var seconds: Double
}

/// What `QAEvaluator.run` scores the greedy answers with.
public struct QABERTScoring {
    public let scorer: BERTScorer
    /// IDF weights (bert_score computes them on the references), or nil for uniform weights.
    public let idf: IDFWeights?

    /// `idf` true computes the weights from `references` (the whole dataset's answers).
    public init(scorer: BERTScorer, idf: Bool, references: [String]) {
        self.scorer = scorer
        self.idf = idf ? scorer.idf(references: references) : nil
    }

    public var settings: BERTScoreSettings {
        BERTScoreSettings(model: scorer.model.files.weights, layer: scorer.layer, idf: idf != nil, baseline: scorer.baseline)
    }
}

/// Theia's QA benchmark: the question is formatted with the model's chat template (system
/// prompt from the dataset), the reference answer's tokens are teacher-forced after the
/// generation prompt and their mean NLL gives the answer perplexity; the greedy answer
/// (≤ `maxAnswerTokens`) is generated and scored against the reference with BERTScore.
public final class QAEvaluator {
    public let model: LanguageModel
    let generator: Generator
    let formatter: ChatFormatter
    public let maxAnswerTokens: Int

    public init(model: LanguageModel, contextLength: Int = 2048, maxAnswerTokens: Int = 256, pool: ThreadPool = ThreadPool()) throws {
        self.model = model
        self.maxAnswerTokens = maxAnswerTokens
        generator = Generator(session: try model.makeSession(contextLength: contextLength, pool: pool))
        formatter = try ChatFormatter(model: model)
    }

    /// The prompt tokens (ending with the assistant's generation prompt) and the answer tokens.
    public func encode(_ item: QAItem) throws -> (prompt: [Int], answer: [Int]) {
        var messages: [ChatMessage] = []
        if let system = item.system { messages.append(.system(system)) }
        messages.append(.user(item.question))
        let prompt = try formatter.render(messages, addGenerationPrompt: true)
        let tokenizer = model.tokenizer
        let promptIDs = tokenizer.encode(prompt, addSpecial: false, parseSpecial: true)
        let answerIDs = tokenizer.encode(item.answer, addSpecial: false, parseSpecial: false)
        return (promptIDs, answerIDs)
    }

    public func score(_ item: QAItem, generate: Bool = true, bertScoring: QABERTScoring? = nil) throws -> QAResult {
        let (prompt, answer) = try encode(item)
        let session = generator.session
        guard prompt.count + max(answer.count, maxAnswerTokens) <= session.capacity else {
            throw EvalError.invalidParameter("\(item.id): prompt \(prompt.count) + answer tokens exceed the context \(session.capacity)")
        }
        generator.resetCache()
        let all = prompt + answer
        var nll = 0.0
        try session.evaluate(Array(all.dropLast())) { position, logits in
            guard position >= prompt.count - 1 else { return }
            nll += LogSoftmax.negativeLogLikelihood(logits, token: all[position + 1])
        }
        generator.resetCache()
        var text = ""
        var generatedTokens = 0
        if generate {
            let output = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: maxAnswerTokens, sampling: .greedy))
            text = output.text.trimmingCharacters(in: .whitespacesAndNewlines)
            generatedTokens = output.tokens.count
        }
        var bert: BERTScore?
        if generate, let bertScoring {
            bert = try bertScoring.scorer.score(candidate: text, reference: item.answer, idf: bertScoring.idf)
        }
        return QAResult(id: item.id, category: item.category, answerNLL: nll, answerTokens: answer.count,
                        answerPerplexity: exp(nll / Double(max(answer.count, 1))), reference: item.answer,
                        generated: text, generatedTokens: generatedTokens, bertScore: bert)
    }

    /// Scores every item; with `bertScoring` (and `generate`) each greedy answer gets a
    /// BERTScore and the report their mean.
    public func run(_ items: [QAItem], generate: Bool = true, modelName: String? = nil, bertScoring: QABERTScoring? = nil,
                    progress: (QAResult, Int, Int) -> Void = { _, _, _ in }) throws -> QAReport {
        let start = Date()
        var results: [QAResult] = []
        for item in items {
            results.append(try score(item, generate: generate, bertScoring: bertScoring))
            progress(results.last!, results.count, items.count)
        }
        // Final scores over the whole set at once, as bert_score.score(cands, refs) batches them
        // (the per-item scores above are for progress; batching can only raise them slightly).
        if generate, let bertScoring {
            let batched = try bertScoring.scorer.score(candidates: results.map(\.generated), references: results.map(\.reference),
                                                       idf: bertScoring.idf)
            for i in results.indices { results[i].bertScore = batched[i] }
        }
        let scored = results.compactMap(\.bertScore)
        // P or R is NaN (as in bert_score) when idf gives a sentence zero total weight; such
        // values are left out of that component's mean (F1 is then 0, as bert_score sets it).
        func mean(_ values: [Double]) -> Double {
            let finite = values.filter { !$0.isNaN }
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        }
        let meanBERT = scored.isEmpty ? nil : BERTScore(
            precision: mean(scored.map(\.precision)), recall: mean(scored.map(\.recall)), f1: mean(scored.map(\.f1)))
        let totalNLL = results.reduce(0) { $0 + $1.answerNLL }
        let totalTokens = results.reduce(0) { $0 + $1.answerTokens }
        let itemPPL = results.map(\.answerPerplexity)
        return QAReport(model: modelName ?? model.config.name, answerPerplexity: exp(totalNLL / Double(max(totalTokens, 1))),
                        meanItemPerplexity: itemPPL.reduce(0, +) / Double(max(itemPPL.count, 1)),
                        bertScore: meanBERT, bertSettings: meanBERT == nil ? nil : bertScoring?.settings,
                        results: results, seconds: Date().timeIntervalSince(start))
    }
}
