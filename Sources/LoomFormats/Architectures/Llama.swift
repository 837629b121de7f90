/// Llama 1/2/3/3.1 (`LlamaForCausalLM`, GGUF `llama`): the reference block. llama.cpp's
/// converter permutes Q/K rows so RoPE pairs are adjacent (convert_hf_to_gguf.py
/// `LlamaModel.permute`); q/k/v biases only with `attention_bias`; Llama 3.1 RoPE scaling
/// stored as `rope_freqs.weight`.
extension Architecture {
    public static let llama = Architecture(
        name: "llama", hfClassNames: ["LlamaForCausalLM"], hfModelType: "llama",
        qkvBias: .configured, ggufPairLayout: .adjacent,
        defaultPreTokenizer: { $0 >= 128_000 ? "llama-bpe" : "gpt-2" },
        // llama.cpp gives LLM_TYPE_70B to 80-layer llama models (src/llama-model.cpp).
        isSeventyBillionClass: { $0 == 80 })
}
