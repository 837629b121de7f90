/// BitNet b1.58 (`BitNetForCausalLM`, transformers models/bitnet/modeling_bitnet.py): the Llama
/// block with two more RMSNorms — `attn_sub_norm` on the attention output before `o_proj`
/// and `ffn_sub_norm` on `relu²(gate·x) ⊙ up·x` before `down_proj` — and the squared-ReLU
/// gated feed-forward (`hidden_act: "relu2"`). Released checkpoints (microsoft/bitnet-b1.58-2B-4T)
/// store the linears packed with `quantization_config {quant_method: "bitnet", linear_class:
/// "autobitlinear"}`, read by ``HFBitNetQuantization``; an unpacked (BF16) one runs as floats.
///
/// llama.cpp's GGUF arch `bitnet` (gguf-py `MODEL_TENSORS[MODEL_ARCH.BITNET]`, src/models/bitnet.cpp)
/// names the norms `blk.N.attn_sub_norm` / `blk.N.ffn_sub_norm`, always uses `token_embd` as the
/// head, rotates NEOX-style pairs (`llama_model_rope_type`: BITNET is in the NEOX group; its
/// converter does not permute Q/K) and reads the activation from `bitnet.hidden_activation`
/// (SiLU when absent, for older files). Its converter writes each ternary linear unpacked and
/// multiplied by its scale (convert_hf_to_gguf `BitnetModel`), so no scale tensors are needed.
extension Architecture {
    public static let bitnet = Architecture(
        name: "bitnet", hfClassNames: ["BitNetForCausalLM"], hfModelType: "bitnet",
        qkvBias: .none, ggufPairLayout: .halfSplit,
        tensorNames: HFTensorNaming.llamaFamily.replacing([
            ("self_attn.attn_sub_norm.weight", "attn_sub_norm.weight"),
            ("mlp.ffn_sub_norm.weight", "ffn_sub_norm.weight"),
        ], removing: []),
        feedForwardActivation: .squaredReLU, subLayerNorms: true,
        defaultPreTokenizer: { $0 >= 128_000 ? "llama-bpe" : "gpt-2" })
}
