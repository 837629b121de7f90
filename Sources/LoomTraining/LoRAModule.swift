/// A projection of a decoder layer that LoRA can adapt, by its Hugging Face module name
/// (PEFT's `target_modules` entries for llama and qwen2).
public enum LoRAModule: String, CaseIterable, Sendable, Comparable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// The GGUF base tensor name of this projection in layer `layer`
    /// (`blk.N.attn_q.weight`, …), the key of ``LoRAAdapter/modules``.
    public func ggufTensor(layer: Int) -> String {
        let stem: String
        switch self {
        case .q: stem = "attn_q"
        case .k: stem = "attn_k"
        case .v: stem = "attn_v"
        case .o: stem = "attn_output"
        case .gate: stem = "ffn_gate"
        case .up: stem = "ffn_up"
        case .down: stem = "ffn_down"
        }
        return "blk.\(layer).\(stem).weight"
    }

    /// Position in q, k, v, o, gate, up, down order.
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: LoRAModule, b: LoRAModule) -> Bool { a.index < b.index }
}
