import LoomFormats
import LoomKernels
import LoomTokenizer

/// A decoder-only language model loaded from a GGUF file: config, weights (memory-mapped,
/// multiplied in place), tokenizer and chat template. Immutable and shareable; evaluation
/// state lives in ``InferenceSession``.
///
/// ```swift
/// let model = try LanguageModel(path: "SmolLM2-135M-Instruct.Q4_1.gguf")
/// let session = try model.makeSession()
/// let logits = try session.evaluate(model.tokenizer.encode("The capital of France is"))
/// ```
public final class LanguageModel: @unchecked Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    public let weights: DecoderWeights
    public let tokenizer: BPETokenizer
    public let rope: RotaryEmbedding

    /// The Jinja chat template stored in the file, if any.
    public var chatTemplate: String? { file["tokenizer.chat_template"]?.stringValue }

    public var path: String { file.path }

    /// Opens and checks a GGUF model; fails with a ``ModelError`` or `GGUFError` naming the
    /// file and the offending key or tensor.
    public init(path: String) throws {
        file = try GGUFFile(path: path)
        config = try ModelConfig(gguf: file)
        weights = try DecoderWeights(file: file, config: config)
        tokenizer = try BPETokenizer(gguf: file)
        rope = RotaryEmbedding(
            layout: config.ropeLayout, dimensions: config.ropeDimensions, base: config.ropeBase,
            frequencyFactors: weights.ropeFrequencyFactors, positionScale: config.ropePositionScale)
    }

    /// A fresh evaluation state (KV cache and scratch) of `contextLength` positions
    /// (default: the trained context, capped at 4096 to bound memory).
    public func makeSession(contextLength: Int? = nil, pool: ThreadPool = ThreadPool()) throws -> InferenceSession {
        let capacity = contextLength ?? min(config.contextLength, 4096)
        guard capacity > 0 else {
            throw ModelError.invalidMetadata(key: "context length", reason: "\(capacity) must be positive", path: path)
        }
        return InferenceSession(model: self, capacity: capacity, pool: pool)
    }
}
