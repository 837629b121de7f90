import Foundation
import LoomKernels
import LoomModels

/// Settings of a perplexity run (llama-perplexity's defaults).
public struct PerplexityOptions: Sendable {
    /// Tokens per chunk (`--ctx`, n_ctx).
    public var contextLength: Int
    /// Chunks to score (nil = all that fit).
    public var chunkLimit: Int?
    /// Whether each chunk starts with BOS (replacing its first token); nil = as the model's
    /// tokenizer adds BOS (`tokenizer.ggml.add_bos_token`), which is what llama.cpp does.
    public var replaceFirstWithBOS: Bool?

    public init(contextLength: Int = 512, chunkLimit: Int? = nil, replaceFirstWithBOS: Bool? = nil) {
        self.contextLength = contextLength
        self.chunkLimit = chunkLimit
        self.replaceFirstWithBOS = replaceFirstWithBOS
    }
}

/// One model's perplexity result.
public struct PerplexityReport: Codable, Sendable {
    public var model: String
    public var contextLength: Int
    public var chunks: Int
    public var textTokens: Int
    public var scoredTokens: Int
    /// exp(mean NLL).
    public var perplexity: Double
    /// llama.cpp's ± : PPL · √((mean(nll²) − mean(nll)²)/(n − 1)).
    public var perplexityError: Double
    public var meanNLL: Double
    /// The running perplexity after each chunk (llama.cpp's `[i]x` line).
    public var runningPerplexity: [Double]
    public var seconds: Double
    public var kld: KLDivergenceReport?
}

/// llama-perplexity's method (llama.cpp `tools/perplexity/perplexity.cpp`): the whole text
/// tokenised with the model's special tokens, cut into chunks of n_ctx tokens, each evaluated
/// from an empty cache with (when the model adds BOS) its first token replaced by BOS, and
/// only the second half of each chunk scored: logits at positions n_ctx/2 … n_ctx−2 predict
/// tokens n_ctx/2+1 … n_ctx−1.
///
/// ```swift
/// let evaluator = try PerplexityEvaluator(model: model, options: PerplexityOptions(contextLength: 512))
/// let report = try evaluator.run(tokens: evaluator.tokenize(text))
/// print(report.perplexity, report.perplexityError)
/// ```
public final class PerplexityEvaluator {
    public let model: LanguageModel
    public let options: PerplexityOptions
    let session: InferenceSession

    public init(model: LanguageModel, options: PerplexityOptions = PerplexityOptions(), pool: ThreadPool = ThreadPool()) throws {
        guard options.contextLength >= 4, options.contextLength % 2 == 0 else {
            throw EvalError.invalidParameter("--ctx must be an even number ≥ 4, got \(options.contextLength)")
        }
        if let limit = options.chunkLimit, limit < 1 {
            throw EvalError.invalidParameter("--chunks must be positive, got \(limit)")
        }
        self.model = model
        self.options = options
        session = try model.makeSession(contextLength: options.contextLength, pool: pool)
    }

    /// The whole text's tokens as llama-perplexity makes them (special tokens added as the
    /// model's tokenizer wants, special-token text not parsed).
    public func tokenize(_ text: String) -> [Int] {
        model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
    }

    /// How many chunks `tokenCount` tokens give.
    public func chunkCount(tokenCount: Int) throws -> Int {
        let ctx = options.contextLength
        guard tokenCount >= 2 * ctx else { throw EvalError.notEnoughTokens(have: tokenCount, need: 2 * ctx, context: ctx) }
        return min(tokenCount / ctx, options.chunkLimit ?? .max)
    }

    /// Scores `tokens`. With `baseOutput` the full distributions are saved for a later KLD
    /// run; with `baseInput` the model is compared with that file (whose tokens are used
    /// instead of `tokens`, which may then be empty). `progress` sees (chunk, chunks, running PPL).
    public func run(tokens: [Int], modelName: String? = nil, baseOutput: String? = nil, baseInput: LogProbFileReader? = nil,
                    progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> PerplexityReport {
        let ctx = options.contextLength
        let vocab = model.config.vocabularySize
        let start = Date()
        var allTokens = tokens
        var chunks: Int
        if let base = baseInput {
            guard base.header.contextLength == ctx else {
                throw EvalError.logProbFile(path: base.path, reason: "was made with --ctx \(base.header.contextLength), this run uses \(ctx)")
            }
            guard base.header.vocabularySize == vocab else {
                throw EvalError.logProbFile(path: base.path, reason: "vocabulary \(base.header.vocabularySize) differs from the model's \(vocab)")
            }
            allTokens = base.header.tokens
            chunks = min(base.header.chunkCount, options.chunkLimit ?? .max)
        } else {
            chunks = try chunkCount(tokenCount: tokens.count)
        }
        var writer: LogProbFileWriter?
        if let baseOutput {
            writer = try LogProbFileWriter(path: baseOutput, header: LogProbFile.Header(
                contextLength: ctx, vocabularySize: vocab, chunkCount: chunks, tokens: Array(allTokens[0..<(chunks * ctx)])))
        }
        let first = ctx / 2
        let bos = model.tokenizer.bosID
        let useBOS = (options.replaceFirstWithBOS ?? model.tokenizer.addsBOS) && bos != nil
        let recordLength = 2 * ((vocab + 1) / 2) + 4
        var nllSum = 0.0, nll2Sum = 0.0, count = 0
        var running: [Double] = []
        var kld = baseInput.map { _ in KLDivergenceAccumulator() }
        var records = [UInt16](repeating: 0, count: writer == nil ? 0 : (ctx - 1 - first) * recordLength)

        for chunk in 0..<chunks {
            var input = Array(allTokens[(chunk * ctx)..<((chunk + 1) * ctx)])
            let targets = input
            if useBOS, let bos { input[0] = bos }
            let baseRecords = try baseInput?.readChunk()
            session.reset()
            try session.evaluate(input) { position, logits in
                guard position >= first, position < ctx - 1 else { return }
                let target = targets[position + 1]
                let nll: Double
                if writer != nil {
                    let offset = (position - first) * recordLength
                    nll = records.withUnsafeMutableBufferPointer { all in
                        LogProbFile.encode(logits, token: target, into: UnsafeMutableBufferPointer(rebasing: all[offset..<(offset + recordLength)]))
                    }
                } else {
                    nll = LogSoftmax.negativeLogLikelihood(logits, token: target)
                }
                if let baseRecords {
                    let offset = (position - first) * recordLength
                    baseRecords.withUnsafeBufferPointer { all in
                        kld?.add(logits: logits, record: UnsafeBufferPointer(rebasing: all[offset..<(offset + recordLength)]), token: target)
                    }
                }
                nllSum += nll
                nll2Sum += nll * nll
                count += 1
            }
            if let writer { try writer.append(records) }
            running.append(exp(nllSum / Double(count)))
            progress(chunk + 1, chunks, running.last!)
        }
        try writer?.close()
        let mean = nllSum / Double(count)
        let ppl = exp(mean)
        let variance = nll2Sum / Double(count) - mean * mean
        let error = variance > 0 && count > 1 ? ppl * sqrt(variance / Double(count - 1)) : 0
        return PerplexityReport(
            model: modelName ?? model.config.name, contextLength: ctx, chunks: chunks, textTokens: allTokens.count,
            scoredTokens: count, perplexity: ppl, perplexityError: error, meanNLL: mean, runningPerplexity: running,
            seconds: Date().timeIntervalSince(start), kld: kld?.report())
    }
}
