/// Qwen2 / Qwen2.5 (`Qwen2ForCausalLM`, GGUF `qwen2`): the Llama block with q/k/v biases
/// always present, and Q/K rows stored as in HF (NEOX-style half-split RoPE pairs; llama.cpp
/// `LLM_ARCH_QWEN2` uses `LLAMA_ROPE_TYPE_NEOX`). Qwen2's optional sliding window
/// (`use_sliding_window`) is not supported and is refused when set.
extension Architecture {
    public static let qwen2 = Architecture(
        name: "qwen2", hfClassNames: ["Qwen2ForCausalLM"], hfModelType: "qwen2",
        qkvBias: .always, ggufPairLayout: .halfSplit,
        defaultPreTokenizer: { _ in "qwen2" })
}
