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
    /// The model's greedy answer.
    public var generated: String
}

/// One model's QA report.
public struct QAReport: Codable, Sendable {
    public var model: String
    /// exp(Σ NLL / Σ tokens) over every reference answer (token-weighted).
    public var answerPerplexity: Double
    /// Mean of the per-answer perplexities.
    public var meanItemPerplexity: Double
    public var results: [QAResult]
    public var seconds: Double
}

/// Theia's QA benchmark, the answer-perplexity half: the question is formatted with the
/// model's chat template (system prompt from the dataset), the reference answer's tokens are
/// teacher-forced after the generation prompt and their mean NLL gives the answer
/// perplexity; the greedy answer (≤ `maxAnswerTokens`) is generated for similarity scoring.
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

    public func score(_ item: QAItem, generate: Bool = true) throws -> QAResult {
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
        if generate {
            text = try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: maxAnswerTokens, sampling: .greedy)).text
        }
        return QAResult(id: item.id, category: item.category, answerNLL: nll, answerTokens: answer.count,
                        generated: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    public func run(_ items: [QAItem], generate: Bool = true, modelName: String? = nil,
                    progress: (QAResult, Int, Int) -> Void = { _, _, _ in }) throws -> QAReport {
        let start = Date()
        var results: [QAResult] = []
        for item in items {
            results.append(try score(item, generate: generate))
            progress(results.last!, results.count, items.count)
        }
        let totalNLL = results.reduce(0) { $0 + $1.answerNLL }
        let totalTokens = results.reduce(0) { $0 + $1.answerTokens }
        let itemPPL = results.map { exp($0.answerNLL / Double(max($0.answerTokens, 1))) }
        return QAReport(model: modelName ?? model.config.name, answerPerplexity: exp(totalNLL / Double(max(totalTokens, 1))),
                        meanItemPerplexity: itemPPL.reduce(0, +) / Double(max(itemPPL.count, 1)),
                        results: results, seconds: Date().timeIntervalSince(start))
    }
}
