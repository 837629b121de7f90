import Foundation
import LoomKernels
import LoomModels

/// Embeddings from a decoder-only model: its final hidden states (after the output norm)
/// pooled over the input, as llama.cpp's `--embedding --pooling mean|last|cls` computes them
/// (`llama_context::decode`, `LLAMA_POOLING_TYPE_*`), then L2-normalised as llama-server's
/// `/v1/embeddings` does.
///
/// Text is tokenised with the model's own special tokens (a BOS where the model adds one).
/// Input longer than ``maxTokens`` is an error, never silently truncated. Each call runs in a
/// KV cache sized to its input, so nothing is kept between calls.
///
/// ```swift
/// let embedder = DecoderEmbedder(model: try LanguageModel(path: path), pooling: .mean)
/// let (vector, tokens) = try embedder.embed("A blockchain is a shared ledger.")
/// ```
public final class DecoderEmbedder: TextEmbedder, @unchecked Sendable {
    public let model: LanguageModel
    public let pooling: EmbeddingPooling
    public let name: String
    public let maxTokens: Int
    private let pool: ThreadPool
    private let options: KernelOptions
    private let lock = NSLock()

    /// `maxTokens` nil: the model's trained context. `pool` nil: a pool over every core.
    public init(model: LanguageModel, pooling: EmbeddingPooling = .mean, name: String? = nil, maxTokens: Int? = nil,
                pool: ThreadPool? = nil, options: KernelOptions = .default) {
        self.model = model
        self.pooling = pooling
        self.name = name ?? ((model.path as NSString).lastPathComponent as NSString).deletingPathExtension
        self.maxTokens = maxTokens ?? model.config.contextLength
        self.pool = pool ?? ThreadPool(threadCount: ThreadPool.availableProcessors)
        self.options = options
    }

    public var dimension: Int { model.config.embeddingSize }
    public var vocabularySize: Int { model.config.vocabularySize }

    public func tokenize(_ text: String) -> [Int] {
        model.tokenizer.encode(text, addSpecial: true)
    }

    public func embed(tokens: [Int], normalize: Bool) throws -> [Float] {
        try validate(tokens)
        return try lock.withLock {
            let session = try model.makeSession(contextLength: tokens.count, pool: pool, options: options)
            return try session.embedding(of: tokens, pooling: pooling, normalize: normalize)
        }
    }
}
