/// Phi-3 (`Phi3ForCausalLM`, GGUF `phi3`): the Llama block with Q, K and V in one fused
/// `qkv_proj` (GGUF `attn_qkv`) and gate and up in one `gate_up_proj` (GGUF `ffn_up`, gate
/// rows first), no biases, NEOX-style RoPE pairs (llama.cpp `LLM_ARCH_PHI3` uses
/// `LLAMA_ROPE_TYPE_NEOX` and stores the HF rows unpermuted), and a sliding attention window
/// (`sliding_window`, GGUF `phi3.attention.sliding_window`). Its `longrope` RoPE scaling
/// (the 128K variants) is refused by name until long-context support lands.
extension Architecture {
    public static let phi3 = Architecture(
        name: "phi3", hfClassNames: ["Phi3ForCausalLM"], hfModelType: "phi3",
        qkvBias: .none, ggufPairLayout: .halfSplit, fusedQKV: true, fusedGateUp: true, usesSlidingWindow: true,
        tensorNames: HFTensorNaming.llamaFamily.replacing([
            ("self_attn.qkv_proj.weight", "attn_qkv.weight"),
            ("mlp.gate_up_proj.weight", "ffn_up.weight"),
        ], removing: ["attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias",
                      "ffn_gate.weight", "ffn_up.weight"]),
        defaultPreTokenizer: { _ in "gpt-2" })
}
