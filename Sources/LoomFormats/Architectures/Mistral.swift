/// Mistral (`MistralForCausalLM`): the Llama block with an optional sliding attention window
/// (`sliding_window`: each position attends to itself and the `sliding_window - 1` before
/// it, transformers' `sliding_window_causal_mask_function`). llama.cpp's converter writes it
/// as a `llama` GGUF (convert_hf_to_gguf.py maps `MistralForCausalLM` to `LlamaModel`, Q/K
/// permuted) and drops the window; Loom writes the window as `llama.attention.sliding_window`
/// too, which llama.cpp ignores, so Loom's own reading of the file keeps it.
extension Architecture {
    public static let mistral = Architecture(
        name: "mistral", hfClassNames: ["MistralForCausalLM"], hfModelType: "mistral", ggufWriteName: "llama",
        qkvBias: .none, ggufPairLayout: .adjacent, usesSlidingWindow: true,
        defaultPreTokenizer: { $0 >= 128_000 ? "llama-bpe" : "gpt-2" })
}
