import Foundation
import LoomJinja

/// The parts of a Hugging Face `config.json` Loom needs to run or convert a checkpoint of
/// one of the ``ArchitectureRegistry``'s architectures, validated.
///
/// Defaults follow transformers' `LlamaConfig` / `Qwen2Config` for keys a file omits
/// (`num_key_value_heads` = heads, `head_dim` = hidden / heads, `rope_theta` 10000,
/// `tie_word_embeddings` false, `attention_bias` false; the architecture decides whether
/// q/k/v biases exist at all, e.g. always for Qwen2). RoPE parameters are read from `rope_scaling` + `rope_theta`, or from the
/// transformers 5 `rope_parameters` object.
///
/// ```swift
/// let config = try HFModelConfig(path: dir + "/config.json")
/// if case .llama3(let factor, _, _, let original)? = config.ropeScaling { … }
/// ```
public struct HFModelConfig: Sendable, Equatable {
    /// The family named by `architectures[0]`.
    public var architecture: Architecture
    /// `architectures[0]` as written (e.g. "LlamaForCausalLM").
    public var className: String
    /// `model_type` (e.g. "llama", "qwen2"), if present.
    public var modelType: String?
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    /// Dimensions of each head that RoPE rotates: `head_dim × partial_rotary_factor`
    /// (transformers' `partial_rotary_factor`, top level or in `rope_parameters`; 1 when absent).
    public var ropeDimensions: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// nil when the model uses plain RoPE.
    public var ropeScaling: HFRopeScaling?
    public var maxPositionEmbeddings: Int
    /// Phi-3's top-level `original_max_position_embeddings`: the pre-training context that
    /// LongRoPE measures against when `rope_scaling` does not name it.
    public var originalMaxPositionEmbeddings: Int?
    public var tieWordEmbeddings: Bool
    /// `torch_dtype` (or transformers 5 `dtype`), e.g. "bfloat16".
    public var torchDtype: String?
    public var vocabSize: Int
    public var bosTokenId: Int?
    /// `eos_token_id`, always as a list (HF allows a single id or a list).
    public var eosTokenIds: [Int]
    public var padTokenId: Int?
    /// Whether q/k/v (and for llama o) projections have biases.
    public var attentionBias: Bool
    /// `mlp_bias` (llama only; false when absent).
    public var mlpBias: Bool
    /// Positions each token attends back to, itself included (`sliding_window`), for
    /// architectures that use one; nil for full causal attention.
    public var slidingWindow: Int?
    /// `quantization_config` of an HF BitNet checkpoint (packed ternary linears), or nil.
    public var bitNet: HFBitNetQuantization?

    /// Reads and validates `path`.
    public init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw HFConfigError(path: path, field: nil, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(data: data, path: path)
    }

    /// Parses config JSON `data`; `path` names the source in errors.
    public init(data: Data, path: String = "config.json") throws {
        let r = HFJSONReader(object: try HFJSONReader.load(data: data, path: path), path: path)
        guard case .array(let archs)? = r.present("architectures"), case .string(let first)? = archs.first else {
            throw r.fail("architectures", "missing or not a list of strings")
        }
        let arch: Architecture
        do { arch = try ArchitectureRegistry.huggingFace(className: first, path: path) } catch let e as ArchitectureError {
            throw r.fail("architectures", "'\(first)' is not supported (supported: \(e.known.joined(separator: ", ")))")
        }
        architecture = arch
        className = first
        modelType = try r.string("model_type")
        // transformers picks the model class from model_type, not from `architectures`: a
        // mismatch means the weights are not what the class name says.
        if let modelType, modelType != arch.hfModelType {
            throw r.fail("model_type", "'\(modelType)' does not match \(first) (expected '\(arch.hfModelType)')")
        }
        hiddenSize = try r.positiveInt("hidden_size", required: true)!
        intermediateSize = try r.positiveInt("intermediate_size", required: true)!
        numHiddenLayers = try r.positiveInt("num_hidden_layers", required: true)!
        numAttentionHeads = try r.positiveInt("num_attention_heads", required: true)!
        numKeyValueHeads = try r.positiveInt("num_key_value_heads") ?? numAttentionHeads
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw r.fail("num_key_value_heads", "\(numKeyValueHeads) does not divide num_attention_heads \(numAttentionHeads)")
        }
        if let hd = try r.positiveInt("head_dim") {
            headDim = hd
        } else {
            guard hiddenSize % numAttentionHeads == 0 else {
                throw r.fail("num_attention_heads", "\(numAttentionHeads) does not divide hidden_size \(hiddenSize) and head_dim is absent")
            }
            headDim = hiddenSize / numAttentionHeads
        }
        guard headDim % 2 == 0 else { throw r.fail("head_dim", "\(headDim) is odd; RoPE rotates pairs") }
        rmsNormEps = try r.positiveDouble("rms_norm_eps") ?? 1e-6
        maxPositionEmbeddings = try r.positiveInt("max_position_embeddings", required: true)!
        originalMaxPositionEmbeddings = try r.positiveInt("original_max_position_embeddings")
        vocabSize = try r.positiveInt("vocab_size", required: true)!
        tieWordEmbeddings = try r.bool("tie_word_embeddings") ?? false
        torchDtype = try r.string("torch_dtype") ?? r.string("dtype")
        bosTokenId = try r.ints("bos_token_id")?.first
        eosTokenIds = try r.ints("eos_token_id") ?? []
        padTokenId = try r.ints("pad_token_id")?.first
        let vocab = vocabSize
        for (key, ids) in [("bos_token_id", bosTokenId.map { [$0] } ?? []), ("eos_token_id", eosTokenIds), ("pad_token_id", padTokenId.map { [$0] } ?? [])] {
            if let bad = ids.first(where: { $0 >= vocab }) { throw r.fail(key, "\(bad) is not below vocab_size \(vocab)") }
        }
        switch arch.qkvBias {
        case .always: attentionBias = true
        case .configured: attentionBias = try r.bool("attention_bias") ?? false
        case .none:
            attentionBias = false
            if try r.bool("attention_bias") == true { throw r.fail("attention_bias", "\(arch) has no attention biases") }
        }
        mlpBias = try r.bool("mlp_bias") ?? false
        bitNet = try HFBitNetQuantization(config: r, path: path)
        // Each family runs one activation: any other would silently change the model.
        let expectedAct = arch.feedForwardActivation.rawValue
        if let act = try r.string("hidden_act"), act != expectedAct {
            throw r.fail("hidden_act", "'\(act)' is not supported (\(arch) runs \(expectedAct))")
        }
        if arch.usesSlidingWindow {
            slidingWindow = try r.positiveInt("sliding_window")
        } else {
            slidingWindow = nil
            if try r.bool("use_sliding_window") == true {
                throw r.fail("use_sliding_window", "sliding-window attention is not supported for \(arch)")
            }
        }

        // RoPE: transformers 5 nests theta and scaling in rope_parameters; older files use
        // rope_theta + rope_scaling (null or absent for plain RoPE).
        var partialRotary = try r.positiveDouble("partial_rotary_factor")
        if let params = try r.objectValue("rope_parameters") {
            let p = HFJSONReader(object: params, path: path, prefix: "rope_parameters.")
            partialRotary = try p.positiveDouble("partial_rotary_factor") ?? partialRotary
            let nested = try p.positiveDouble("rope_theta")
            let topLevel = try r.positiveDouble("rope_theta")
            ropeTheta = nested ?? topLevel ?? 10_000
            ropeScaling = try HFRopeScaling.parse(params, field: "rope_parameters", path: path)
        } else {
            let theta = try r.positiveDouble("rope_theta")
            ropeTheta = theta ?? 10_000
            if let scaling = try r.objectValue("rope_scaling") {
                ropeScaling = try HFRopeScaling.parse(scaling, field: "rope_scaling", path: path)
            } else {
                ropeScaling = nil
            }
        }
        let rotated = Double(headDim) * (partialRotary ?? 1)
        guard partialRotary ?? 1 <= 1, rotated.rounded() == rotated, Int(rotated) % 2 == 0 else {
            throw r.fail("partial_rotary_factor", "\(partialRotary ?? 1) × head_dim \(headDim) is not an even number of dimensions")
        }
        ropeDimensions = Int(rotated)
        if case .longrope(let short, let long, _, _, _)? = ropeScaling {
            for (key, list) in [("short_factor", short), ("long_factor", long)] where list.count != ropeDimensions / 2 {
                throw HFConfigError(path: path, field: "rope_scaling.\(key)",
                                    reason: "has \(list.count) entries; the rotated pairs per head are \(ropeDimensions / 2)")
            }
        }
    }
}
