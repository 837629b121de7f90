import LoomKernels

/// What makes one decoder family different from the others, as data: names in each file
/// format, which optional tensors it has, how RoPE pairs are laid out in its stored Q/K rows,
/// and which fused tensors it stores. The forward pass (LoomModels' `DecoderForward`), the
/// loaders, the HF ⇄ GGUF converters and the quantiser all ask this value instead of
/// switching on names, so an architecture is one file here (like mlx-swift-lm's
/// `Models/Qwen2.swift` or llama.cpp's `src/models/qwen2.cpp`) plus one line in
/// ``ArchitectureRegistry``.
///
/// The families here share the Llama block (pre-norm, GQA attention with RoPE, SwiGLU); how
/// to add one is in the README ("Adding an architecture").
public struct Architecture: Sendable, Equatable, CustomStringConvertible {
    /// Whether a family's q/k/v projections carry biases.
    public enum QKVBias: Sendable, Equatable {
        /// Never (their presence in a file is an error).
        case none
        /// When `config.json` says `attention_bias: true` (Llama), or the GGUF file has them.
        case configured
        /// Always (Qwen2).
        case always
    }

    /// GGUF `general.architecture` (and the `<name>.*` metadata prefix).
    public let name: String
    /// `config.json` `architectures[0]` values this family loads from.
    public let hfClassNames: [String]
    /// `config.json` `model_type` written on export.
    public let hfModelType: String
    /// The `general.architecture` llama.cpp writes for it (Mistral is written as `llama`).
    public let ggufWriteName: String
    public let qkvBias: QKVBias
    /// How RoPE pairs sit in the Q/K rows of a GGUF file: `.adjacent` where llama.cpp's
    /// converter permutes them (`LlamaModel.permute` in convert_hf_to_gguf.py), `.halfSplit`
    /// (NEOX style) where it stores the HF rows as they are. HF checkpoints are always
    /// half-split.
    public let ggufPairLayout: RotaryEmbedding.PairLayout
    /// Q, K and V stored as one `[qDim + 2·kvDim, d]` matrix (`attn_qkv` / `qkv_proj`).
    public let fusedQKV: Bool
    /// Gate and up stored as one `[2·ffn, d]` matrix, gate rows first (`ffn_up` /
    /// `gate_up_proj`, transformers' `gate, up = gate_up_proj(x).chunk(2, dim=-1)`).
    public let fusedGateUp: Bool
    /// Whether attention is limited to the last `sliding_window` positions when the config
    /// sets one (GGUF `<name>.attention.sliding_window`).
    public let usesSlidingWindow: Bool
    /// The gated feed-forward's activation: `act(gate·x) ⊙ (up·x)`.
    public enum FeedForwardActivation: String, Sendable, Equatable {
        /// SiLU (SwiGLU), `hidden_act: "silu"`.
        case silu
        /// relu(x)² (transformers' `ReLUSquaredActivation`), `hidden_act: "relu2"` (BitNet b1.58).
        case squaredReLU = "relu2"
    }

    /// HF ⇄ GGUF tensor names.
    public let tensorNames: HFTensorNaming
    /// `hidden_act` this family runs (any other value in `config.json` is refused). GGUF files
    /// say it in `<arch>.hidden_activation` (llama.cpp `LLM_KV_HIDDEN_ACT`), SiLU when absent.
    public let feedForwardActivation: FeedForwardActivation
    /// RMSNorms on the attention output before `o_proj` (`attn_sub_norm`) and on the gated
    /// product before `down_proj` (`ffn_sub_norm`), as BitNet b1.58 has them.
    public let subLayerNorms: Bool

    /// `tokenizer.ggml.pre` written on conversion when none is given, by vocabulary size.
    public let defaultPreTokenizer: @Sendable (_ vocabularySize: Int) -> String
    /// llama.cpp's `LLM_TYPE_70B` for its quantisation rules (llama-quant.cpp), by layer count.
    public let isSeventyBillionClass: @Sendable (_ layers: Int) -> Bool

    public init(name: String, hfClassNames: [String], hfModelType: String, ggufWriteName: String? = nil,
                qkvBias: QKVBias, ggufPairLayout: RotaryEmbedding.PairLayout, fusedQKV: Bool = false,
                fusedGateUp: Bool = false, usesSlidingWindow: Bool = false, tensorNames: HFTensorNaming = .llamaFamily,
                feedForwardActivation: FeedForwardActivation = .silu, subLayerNorms: Bool = false,
                defaultPreTokenizer: @escaping @Sendable (Int) -> String,
                isSeventyBillionClass: @escaping @Sendable (Int) -> Bool = { _ in false }) {
        self.name = name
        self.hfClassNames = hfClassNames
        self.hfModelType = hfModelType
        self.ggufWriteName = ggufWriteName ?? name
        self.qkvBias = qkvBias
        self.ggufPairLayout = ggufPairLayout
        self.fusedQKV = fusedQKV
        self.fusedGateUp = fusedGateUp
        self.usesSlidingWindow = usesSlidingWindow
        self.tensorNames = tensorNames
        self.feedForwardActivation = feedForwardActivation
        self.subLayerNorms = subLayerNorms
        self.defaultPreTokenizer = defaultPreTokenizer
        self.isSeventyBillionClass = isSeventyBillionClass
    }

    /// Whether converting HF → GGUF permutes Q/K rows (and GGUF → HF un-permutes them).
    public var permutesQK: Bool { ggufPairLayout == .adjacent }

    public var description: String { name }

    public static func == (a: Architecture, b: Architecture) -> Bool { a.name == b.name }
}
