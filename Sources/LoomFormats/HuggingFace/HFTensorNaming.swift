/// Hugging Face ↔ GGUF tensor names of one architecture (llama.cpp
/// `gguf-py/gguf/tensor_mapping.py`), and the Q/K row permutation llama.cpp's converter
/// applies to llama-style models.
public struct HFTensorNaming: Sendable {
    /// Per-layer names: HF suffix after `model.layers.N.`, GGUF suffix after `blk.N.`.
    public let layerSuffixes: [(hf: String, gguf: String)]
    /// Whole-model names.
    public let globals: [(hf: String, gguf: String)]

    public init(layerSuffixes: [(hf: String, gguf: String)], globals: [(hf: String, gguf: String)]) {
        self.layerSuffixes = layerSuffixes
        self.globals = globals
    }

    /// Llama, Qwen2 and Mistral: separate q/k/v and gate/up, optional q/k/v/o biases.
    public static let llamaFamily = HFTensorNaming(
        layerSuffixes: [
            ("input_layernorm.weight", "attn_norm.weight"),
            ("post_attention_layernorm.weight", "ffn_norm.weight"),
            ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.q_proj.bias", "attn_q.bias"),
            ("self_attn.k_proj.weight", "attn_k.weight"), ("self_attn.k_proj.bias", "attn_k.bias"),
            ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.v_proj.bias", "attn_v.bias"),
            ("self_attn.o_proj.weight", "attn_output.weight"), ("self_attn.o_proj.bias", "attn_output.bias"),
            ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"),
            ("mlp.down_proj.weight", "ffn_down.weight"),
        ],
        globals: [
            ("model.embed_tokens.weight", "token_embd.weight"), ("model.norm.weight", "output_norm.weight"),
            ("lm_head.weight", "output.weight"),
        ])

    /// This naming without the layer entries whose GGUF suffix is in `removing`, plus `added`.
    public func replacing(_ added: [(hf: String, gguf: String)], removing: Set<String>) -> HFTensorNaming {
        HFTensorNaming(layerSuffixes: layerSuffixes.filter { !removing.contains($0.gguf) } + added, globals: globals)
    }

    /// The GGUF name of HF tensor `name`, or nil for tensors GGUF does not store
    /// (e.g. `rotary_emb.inv_freq`).
    public func ggufName(forHF name: String) -> String? {
        if let g = globals.first(where: { $0.hf == name }) { return g.gguf }
        guard name.hasPrefix("model.layers.") else { return nil }
        let rest = name.dropFirst("model.layers.".count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        return layerSuffixes.first { $0.hf == suffix }.map { "blk.\(layer).\($0.gguf)" }
    }

    /// The HF name of GGUF tensor `name`, or nil (e.g. `rope_freqs.weight`).
    public func hfName(forGGUF name: String) -> String? {
        if let g = globals.first(where: { $0.gguf == name }) { return g.hf }
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        return layerSuffixes.first { $0.gguf == suffix }.map { "model.layers.\(layer).\($0.hf)" }
    }

    /// convert_hf_to_gguf's `LlamaModel.permute`: rows of a q/k projection (or bias) with
    /// `heads` heads are reordered so that, within each head of `rows/heads` rows, HF row
    /// `half·(hd/2) + i` becomes row `2i + half` (interleaved RoPE pairs).
    public static func permuteForGGUF(_ values: [Float], rows: Int, heads: Int) -> [Float] {
        precondition(heads > 0 && rows % (2 * heads) == 0 && values.count % rows == 0)
        let cols = values.count / rows, hd = rows / heads, half = hd / 2
        var out = [Float](repeating: 0, count: values.count)
        for h in 0..<heads {
            for part in 0..<2 {
                for i in 0..<half {
                    let src = (h * hd + part * half + i) * cols, dst = (h * hd + 2 * i + part) * cols
                    for c in 0..<cols { out[dst + c] = values[src + c] }
                }
            }
        }
        return out
    }

    /// The inverse of ``permuteForGGUF(_:rows:heads:)`` (GGUF llama → HF layout).
    public static func unpermuteFromGGUF(_ values: [Float], rows: Int, heads: Int) -> [Float] {
        precondition(heads > 0 && rows % (2 * heads) == 0 && values.count % rows == 0)
        let cols = values.count / rows, hd = rows / heads, half = hd / 2
        var out = [Float](repeating: 0, count: values.count)
        for h in 0..<heads {
            for part in 0..<2 {
                for i in 0..<half {
                    let dst = (h * hd + part * half + i) * cols, src = (h * hd + 2 * i + part) * cols
                    for c in 0..<cols { out[dst + c] = values[src + c] }
                }
            }
        }
        return out
    }
}
