import Foundation
import LoomData
import LoomEval
import LoomKernels
import LoomModels

/// The perplexity of a document under a small local model, for `loom data clean
/// --ppl-model` (CCNet, Wenzek et al. 2020, §3.3: documents a language model finds
/// improbable are boilerplate, lists, spam or broken text).
///
/// The document's first `maxTokens` tokens (BOS added as the model wants) are evaluated
/// from an empty cache; the perplexity is exp of the mean negative log-likelihood of every
/// token after the first. One model and session serve all documents, one at a time.
final class DocumentPerplexity {
    let model: LanguageModel
    let session: InferenceSession
    let maxTokens: Int

    init(model name: String, maxTokens: Int, threads: Int?) throws {
        guard maxTokens >= 2 else { throw DataError("--ppl-max-tokens must be at least 2 (got \(maxTokens))") }
        let path = try ModelLocator.resolve(name)
        StandardError.print("loading \(path) for the perplexity filter")
        model = try LanguageModel(path: path)
        session = try model.makeSession(contextLength: maxTokens, pool: ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors))
        self.maxTokens = maxTokens
    }

    /// The perplexity of `text`; nil when it has fewer than two tokens.
    func perplexity(_ text: String) throws -> Double? {
        let tokens = Array(model.tokenizer.encode(text, addSpecial: true, parseSpecial: false).prefix(maxTokens))
        guard tokens.count >= 2 else { return nil }
        session.reset()
        var nll = 0.0
        _ = try session.evaluate(tokens) { position, logits in
            guard position + 1 < tokens.count else { return }
            nll += LogSoftmax.negativeLogLikelihood(logits, token: tokens[position + 1])
        }
        return exp(nll / Double(tokens.count - 1))
    }
}
