import LoomKernels

/// Chooses each tensor's type when quantising a GGUF model — a port of llama.cpp's
/// `llama_tensor_get_type` (src/llama-quant.cpp) for the dense llama/qwen2 case:
///
/// - only tensors whose name ends in `weight`, with at least 2 dimensions, and that are not
///   norms, positional/token-type embeddings or (with `leaveOutputTensor`) `output.weight`
///   are quantised; the rest keep their type;
/// - `output.weight` (and `token_embd.weight` when there is no output tensor: tied
///   embeddings) becomes Q6_K, or stays Q8_0 for Q8_0, or Q8_0 if its rows do not fit 256;
/// - the mixes give attn_v and ffn_down more bits in the first and last eighth of the layers
///   and every third layer between (`use_more_bits`), Q4_K_S/Q3_K_* further rules;
/// - for the ternary types TQ1_0/TQ2_0 an untied `token_embd.weight` becomes Q4_K;
/// - a row length that is not a multiple of the chosen block falls back: Q2_K/Q3_K/TQ1_0/TQ2_0 → Q4_0,
///   Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and F16 if even 32 does not divide it.
///
/// The attn_v/ffn_down layer counters advance in the order tensors are visited: current
/// llama.cpp sorts them by layer number, then name (``Order/loader``); releases before the
/// sorted loader (2024) visited them in file order, which for files converted from HF
/// (lexicographic names: blk.0, blk.1, blk.10, …) picks different layers (``Order/file``).
public struct TensorTypeChooser: Sendable {
    /// Which order the layer counters follow.
    public enum Order: Sendable { case loader, file }
    /// Default: current llama.cpp.
    public var order: Order = .loader
    public let fileType: QuantizationFileType
    /// Keep `output.weight` as it is (`--leave-output-tensor`).
    public var leaveOutputTensor = false
    /// Use the base type for every quantisable tensor, no mix rules (`--pure`).
    public var pure = false
    /// Layers (`<arch>.block_count`).
    public let layerCount: Int
    /// Query heads per KV head.
    public let gqa: Int
    /// The model has no separate `output.weight` (token_embd is used as the output too).
    public let tiedEmbeddings: Bool
    /// Number of attn_v-like tensors (counter range for `use_more_bits`).
    public let attentionVCount: Int
    /// llama.cpp's LLM_TYPE_70B (80-layer llama) bumps Q3_K/Q4_K attn_v to Q5_K.
    public let is70B: Bool

    public init(fileType: QuantizationFileType, layerCount: Int, gqa: Int, tiedEmbeddings: Bool, attentionVCount: Int, is70B: Bool = false) {
        self.fileType = fileType
        self.layerCount = layerCount
        self.gqa = gqa
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionVCount = attentionVCount
        self.is70B = is70B
    }

    enum Category { case output, tokenEmbedding, attentionQKV, attentionKVB, attentionV, attentionK, attentionQ, attentionOutput, ffnUp, ffnGate, ffnDown, other }

    static func category(_ name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return .tokenEmbedding }
        if name.contains("attn_qkv.weight") { return .attentionQKV }
        if name.contains("attn_kv_b.weight") { return .attentionKVB }
        if name.contains("attn_v.weight") { return .attentionV }
        if name.contains("attn_k.weight") { return .attentionK }
        if name.contains("attn_q.weight") { return .attentionQ }
        if name.contains("attn_output.weight") { return .attentionOutput }
        if name.contains("ffn_up") { return .ffnUp }
        if name.contains("ffn_gate") { return .ffnGate }
        if name.contains("ffn_down") { return .ffnDown }
        return .other
    }

    static func isAttentionVLike(_ c: Category) -> Bool { c == .attentionV || c == .attentionQKV || c == .attentionKVB }

    /// llama.cpp's `tensor_allows_quantization` for the names that occur in llama/qwen2-style models.
    func allowsQuantization(name: String, dimensions: [Int]) -> Bool {
        var dims = dimensions
        while let last = dims.last, last == 1, dims.count > 1 { dims.removeLast() }
        guard dims.count >= 2, name.hasSuffix("weight") else { return false }
        if name.contains("_norm.weight") { return false }
        if leaveOutputTensor && name == "output.weight" { return false }
        let excluded = ["ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
                        "shortconv.conv.weight", "attn_rel_b.weight", ".position_embd", ".rel_pos", ".patch_embd", "time_mix_"]
        if excluded.contains(where: { name.contains($0) }) { return false }
        return name != "position_embd.weight" && name != "token_types.weight"
    }

    static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// llama.cpp's `tensor_type_fallback`.
    static func fallback(_ type: GGMLType, rowLength: Int) -> GGMLType {
        guard rowLength % type.blockSize != 0 else { return type }
        var t: GGMLType
        switch type {
        case .q2_K, .q3_K, .tq1_0, .tq2_0: t = .q4_0
        case .q4_K: t = .q5_0
        case .q5_K: t = .q5_1
        case .q6_K: t = .q8_0
        default: t = type
        }
        if rowLength % t.blockSize != 0 { t = .f16 }
        return t
    }

    /// The sort order llama.cpp's model loader uses: layer number (`blk.N.`; others first), then name.
    static func loaderOrder(_ a: String, _ b: String) -> Bool {
        let la = layerNumber(a) ?? -1, lb = layerNumber(b) ?? -1
        return la != lb ? la < lb : a < b
    }

    static func layerNumber(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let digits = name.dropFirst(4).prefix { $0.isNumber }
        return digits.isEmpty ? nil : Int(digits)
    }

    /// Chosen type for every tensor `(name, dimensions, current type)`, keyed by name.
    public func chooseTypes(for tensors: [(name: String, dimensions: [Int], type: GGMLType)]) -> [String: GGMLType] {
        var counters = (attentionV: 0, ffnDown: 0)
        var result: [String: GGMLType] = [:]
        let visited = order == .file ? tensors : tensors.sorted(by: { Self.loaderOrder($0.name, $1.name) })
        for t in visited {
            result[t.name] = choose(name: t.name, dimensions: t.dimensions, current: t.type, counters: &counters)
        }
        return result
    }

    func choose(name: String, dimensions: [Int], current: GGMLType, counters: inout (attentionV: Int, ffnDown: Int)) -> GGMLType {
        guard allowsQuantization(name: name, dimensions: dimensions) else { return current }
        var t = fileType.defaultType
        guard t.blockSize > 1 else { return t }
        let rowLength = dimensions.first ?? 1
        if !pure {
            t = mixed(t, name: name, rowLength: rowLength, counters: &counters)
        }
        return Self.fallback(t, rowLength: rowLength)
    }

    func mixed(_ base: GGMLType, name: String, rowLength: Int, counters: inout (attentionV: Int, ffnDown: Int)) -> GGMLType {
        var t = base
        let category = Self.category(name)
        let f = fileType
        if category == .output || (tiedEmbeddings && category == .tokenEmbedding) {
            if rowLength % t.blockSize != 0 { t = .q8_0 } else if t != .q8_0 { t = .q6_K }
        } else if category == .tokenEmbedding {
            if f == .mostlyTQ1_0 || f == .mostlyTQ2_0 { t = .q4_K }
        } else if Self.isAttentionVLike(category) {
            let i = counters.attentionV, n = attentionVCount
            if f == .mostlyQ2_K { t = gqa >= 4 ? .q4_K : .q3_K }
            else if f == .mostlyQ2_K_S && gqa >= 4 { t = .q4_K }
            else if f == .mostlyQ3_K_M { t = i < 2 ? .q5_K : .q4_K }
            else if f == .mostlyQ3_K_L { t = .q5_K }
            else if (f == .mostlyQ4_K_M || f == .mostlyQ5_K_M) && Self.useMoreBits(i, n) { t = .q6_K }
            else if f == .mostlyQ4_K_S && i < 4 { t = .q5_K }
            if is70B && (t == .q3_K || t == .q4_K) { t = .q5_K }
            counters.attentionV += 1
        } else if category == .ffnDown {
            let i = counters.ffnDown, n = layerCount
            if f == .mostlyQ2_K { t = .q3_K }
            else if f == .mostlyQ2_K_S { if i < n / 8 { t = .q4_K } }
            else if f == .mostlyQ3_K_M { t = i < n / 16 ? .q5_K : .q4_K }
            else if f == .mostlyQ3_K_L { t = .q5_K }
            else if f == .mostlyQ4_K_M { if Self.useMoreBits(i, n) { t = .q6_K } }
            else if f == .mostlyQ5_K_M && Self.useMoreBits(i, n) { t = .q6_K }
            else if f == .mostlyQ4_K_S && i < n / 8 { t = .q5_K }
            counters.ffnDown += 1
        } else if category == .attentionOutput {
            if f == .mostlyQ2_K { t = .q3_K }
            else if f == .mostlyQ3_K_M { t = .q4_K }
            else if f == .mostlyQ3_K_L { t = .q5_K }
        }
        return t
    }
}
