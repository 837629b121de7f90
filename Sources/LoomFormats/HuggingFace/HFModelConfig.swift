import Foundation

/// The parts of a Hugging Face `config.json` Loom needs to run or convert a
/// `LlamaForCausalLM` or `Qwen2ForCausalLM` checkpoint, validated.
///
/// Defaults follow transformers' `LlamaConfig` / `Qwen2Config` for keys a file omits
/// (`num_key_value_heads` = heads, `head_dim` = hidden / heads, `rope_theta` 10000,
/// `tie_word_embeddings` false, `attention_bias` false for llama; Qwen2 always has q/k/v
/// biases). RoPE parameters are read from `rope_scaling` + `rope_theta`, or from the
/// transformers 5 `rope_parameters` object.
///
/// ```swift
/// let config = try HFModelConfig(path: dir + "/config.json")
/// if case .llama3(let factor, _, _, let original)? = config.ropeScaling { … }
/// ```
public struct HFModelConfig: Sendable, Equatable {
    /// The supported `architectures[0]` values.
    public enum Architecture: String, Sendable, CaseIterable {
        case llama = "LlamaForCausalLM"
        case qwen2 = "Qwen2ForCausalLM"

        /// The GGUF `general.architecture` name.
        public var ggufName: String { self == .llama ? "llama" : "qwen2" }
    }

    public var architecture: Architecture
    /// `model_type` (e.g. "llama", "qwen2"), if present.
    public var modelType: String?
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// nil when the model uses plain RoPE.
    public var ropeScaling: HFRopeScaling?
    public var maxPositionEmbeddings: Int
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
        guard let archs = r.present("architectures") as? [Any], let first = archs.first as? String else {
            throw r.fail("architectures", "missing or not a list of strings")
        }
        guard let arch = Architecture(rawValue: first) else {
            throw r.fail("architectures", "'\(first)' is not supported (supported: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        architecture = arch
        modelType = try r.string("model_type")
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
        vocabSize = try r.positiveInt("vocab_size", required: true)!
        tieWordEmbeddings = try r.bool("tie_word_embeddings") ?? false
        torchDtype = try r.string("torch_dtype") ?? r.string("dtype")
        bosTokenId = try r.ints("bos_token_id")?.first
        eosTokenIds = try r.ints("eos_token_id") ?? []
        padTokenId = try r.ints("pad_token_id")?.first
        let vocab = vocabSize
        for (key, ids) in [("bos_token_id", bosTokenId.map { [$0] } ?? []), ("eos_token_id", eosTokenIds)] {
            if let bad = ids.first(where: { $0 >= vocab }) { throw r.fail(key, "\(bad) is not below vocab_size \(vocab)") }
        }
        attentionBias = arch == .qwen2 ? true : (try r.bool("attention_bias") ?? false)
        mlpBias = try r.bool("mlp_bias") ?? false

        // RoPE: transformers 5 nests theta and scaling in rope_parameters; older files use
        // rope_theta + rope_scaling (null or absent for plain RoPE).
        if let params = try r.objectValue("rope_parameters") {
            let p = HFJSONReader(object: params, path: path, prefix: "rope_parameters.")
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
        if case .longrope(let short, let long, _, _, _)? = ropeScaling {
            for (key, list) in [("short_factor", short), ("long_factor", long)] where list.count != headDim / 2 {
                throw HFConfigError(path: path, field: "rope_scaling.\(key)", reason: "has \(list.count) entries, head_dim/2 is \(headDim / 2)")
            }
        }
    }
}
