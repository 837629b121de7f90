import LoomFormats
import LoomKernels

/// Hyper-parameters of a decoder-only transformer, read from GGUF metadata.
public struct ModelConfig: Sendable, Equatable {
    /// The decoder family (``ArchitectureRegistry``): what differs from the shared forward pass.
    public var architecture: Architecture
    public var name: String
    public var layerCount: Int
    public var embeddingSize: Int
    public var feedForwardSize: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var ropeDimensions: Int
    public var ropeBase: Double
    /// Linear RoPE position scale (1 / scaling factor); 1 when unscaled.
    public var ropePositionScale: Double
    /// YaRN scaling (per-pair frequencies and a cos/sin magnitude), if the model uses it.
    public var ropeYarn: YarnScaling? = nil
    /// Scaling whose frequencies follow the sequence length (dynamic NTK, LongRoPE), if any.
    public var ropeDynamic: DynamicRopeScaling? = nil
    /// Where the per-pair frequency divisors come from: the file's (`rope_freqs`, Llama 3.1),
    /// none, or ones computed from a `--rope-scaling llama3` override.
    public var ropePairFactors: RopePairFactors = .stored
    public var rmsEpsilon: Float
    /// Context length the model was trained with.
    public var contextLength: Int
    /// Positions each token attends back to, itself included; nil for full causal attention
    /// (Mistral's and Phi-3's `sliding_window`).
    public var slidingWindow: Int? = nil
    /// Whether the LM head is the token embedding: a GGUF file without `output.weight`, or
    /// `config.json`'s `tie_word_embeddings` (false there and no `lm_head` is then an error,
    /// not a silent fallback to the embedding).
    public var tiedOutput = false
    public var vocabularySize: Int
    /// The gated feed-forward's activation: the architecture's for HF directories, GGUF
    /// `<arch>.hidden_activation` (SiLU when absent, as llama.cpp reads it).
    public var feedForwardActivation: Architecture.FeedForwardActivation = .silu

    /// How the stored Q/K rows pair dimensions for RoPE (llama.cpp `convert_hf_to_gguf.py`
    /// `LlamaModel.permute`, `src/llama-model.cpp` `llama_model_rope_type`): adjacent for GGUF
    /// llama (its converter permutes Q/K), half-split for qwen2 and for every HF checkpoint.
    public var ropeLayout: RotaryEmbedding.PairLayout

    /// Reads the `<arch>.*` keys of a GGUF file, checking each value is usable.
    public init(gguf file: GGUFFile) throws {
        let path = file.path
        guard let archName = file["general.architecture"]?.stringValue else {
            throw ModelError.missingMetadata(key: "general.architecture", path: path)
        }
        guard let arch = ArchitectureRegistry.all.first(where: { $0.name == archName }) else {
            throw ModelError.unsupportedArchitecture(archName, path: path)
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            let full = "\(archName).\(key)"
            if case .bool? = file[full] {
                throw ModelError.invalidMetadata(key: full, reason: "is a boolean, not a size", path: path)
            }
            guard let v = file[full]?.intValue ?? value else {
                throw ModelError.missingMetadata(key: full, path: path)
            }
            guard v > 0, v < 1 << 28 else {
                throw ModelError.invalidMetadata(key: full, reason: "\(v) is not a positive size", path: path)
            }
            return v
        }
        func double(_ key: String, default value: Double?) throws -> Double {
            let full = "\(archName).\(key)"
            guard let v = file[full]?.doubleValue ?? value else {
                throw ModelError.missingMetadata(key: full, path: path)
            }
            guard v.isFinite, v > 0 else {
                throw ModelError.invalidMetadata(key: full, reason: "\(v) is not a positive number", path: path)
            }
            return v
        }
        architecture = arch
        ropeLayout = arch.ggufPairLayout
        name = file["general.name"]?.stringValue ?? archName
        layerCount = try int("block_count")
        embeddingSize = try int("embedding_length")
        feedForwardSize = try int("feed_forward_length")
        headCount = try int("attention.head_count")
        kvHeadCount = try int("attention.head_count_kv", default: headCount)
        guard headCount % kvHeadCount == 0 else {
            throw ModelError.invalidMetadata(
                key: "\(archName).attention.head_count_kv",
                reason: "\(headCount) query heads cannot be shared evenly by \(kvHeadCount) KV heads", path: path)
        }
        guard embeddingSize % headCount == 0 || file["\(archName).attention.key_length"] != nil else {
            throw ModelError.invalidMetadata(
                key: "\(archName).attention.head_count",
                reason: "embedding size \(embeddingSize) is not divisible by \(headCount) heads", path: path)
        }
        headDim = try int("attention.key_length", default: embeddingSize / headCount)
        ropeDimensions = try int("rope.dimension_count", default: headDim)
        guard ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
            throw ModelError.invalidMetadata(
                key: "\(archName).rope.dimension_count",
                reason: "\(ropeDimensions) must be even and at most the head size \(headDim)", path: path)
        }
        ropeBase = try double("rope.freq_base", default: 10_000)
        let scalingType = file["\(archName).rope.scaling.type"]?.stringValue ?? "none"
        let factor = file["\(archName).rope.scaling.factor"]?.doubleValue
            ?? file["\(archName).rope.scale_linear"]?.doubleValue ?? 1
        switch scalingType {
        case "none": ropePositionScale = 1
        case "linear":
            // A zero, negative or NaN factor is a broken file, not "no scaling".
            guard factor.isFinite, factor > 0 else {
                throw ModelError.invalidMetadata(key: "\(archName).rope.scaling.factor", reason: "linear RoPE scaling needs a positive factor, got \(factor)", path: path)
            }
            ropePositionScale = 1 / factor
        case "yarn":
            // The keys `loom convert` and convert_hf_to_gguf write for an HF yarn config.
            ropePositionScale = 1
            guard factor.isFinite, factor > 0 else {
                throw ModelError.invalidMetadata(key: "\(archName).rope.scaling.factor", reason: "YaRN needs a positive factor", path: path)
            }
            for key in ["attn_factor", "yarn_beta_fast", "yarn_beta_slow"] {
                if let v = file["\(archName).rope.scaling.\(key)"]?.doubleValue, !v.isFinite {
                    throw ModelError.invalidMetadata(key: "\(archName).rope.scaling.\(key)", reason: "\(v) is not a finite number", path: path)
                }
            }
            let original = try int("rope.scaling.original_context_length", default: nil)
            ropeYarn = YarnScaling(factor: factor, originalContext: original,
                                   attentionFactor: file["\(archName).rope.scaling.attn_factor"]?.doubleValue,
                                   betaFast: file["\(archName).rope.scaling.yarn_beta_fast"]?.doubleValue,
                                   betaSlow: file["\(archName).rope.scaling.yarn_beta_slow"]?.doubleValue)
        default:
            throw ModelError.invalidMetadata(
                key: "\(archName).rope.scaling.type",
                reason: "RoPE scaling '\(scalingType)' is not supported yet (none, linear, yarn)", path: path)
        }
        rmsEpsilon = Float(try double("attention.layer_norm_rms_epsilon", default: nil))
        // Finite as a Double but not as the Float the kernels use (e.g. 1e300).
        guard rmsEpsilon.isFinite, rmsEpsilon > 0 else {
            throw ModelError.invalidMetadata(key: "\(archName).attention.layer_norm_rms_epsilon", reason: "is not a positive Float32 number", path: path)
        }
        contextLength = try int("context_length", default: 2048)
        tiedOutput = file.tensor(named: "output.weight") == nil
        // Read for every architecture: Loom writes Mistral's window into `llama` files.
        // llama.cpp writes `phi3.attention.sliding_window` 0 for "no window" (convert_hf_to_gguf).
        if let window = file["\(archName).attention.sliding_window"]?.intValue, window != 0 {
            slidingWindow = try int("attention.sliding_window")
        }
        if let act = file["\(archName).hidden_activation"]?.stringValue {
            guard let known = Architecture.FeedForwardActivation(rawValue: act) else {
                throw ModelError.invalidMetadata(key: "\(archName).hidden_activation", reason: "'\(act)' is not supported (silu, relu2)", path: path)
            }
            feedForwardActivation = known
        }
        let tokenCount = file["tokenizer.ggml.tokens"]?.arrayValue?.count
        vocabularySize = try int("vocab_size", default: tokenCount)
    }
}
