import LoomFormats

extension ModelConfig {
    /// The LongRoPE scaling of a GGUF file that stores llama.cpp's `rope_factors_long` /
    /// `rope_factors_short` tensors (convert_hf_to_gguf.py `Phi3MiniModel`): the original
    /// context is `<arch>.rope.scaling.original_context_length`, the cos/sin factor
    /// `<arch>.rope.scaling.attn_factor` (derived from the context ratio when absent).
    ///
    /// llama.cpp picks the long factors for every sequence once the context is longer than
    /// the original; Loom picks them per sequence length, as transformers does (the model's
    /// reference definition), so a GGUF and its HF directory give the same logits.
    static func ggufLongRope(_ file: GGUFFile, config c: ModelConfig, long: [Float], short: [Float]) throws -> DynamicRopeScaling {
        let arch = c.architecture.name
        let key = "\(arch).rope.scaling.original_context_length"
        let original = file[key]?.intValue ?? c.contextLength
        guard original > 1 else {
            throw ModelError.invalidMetadata(key: key, reason: "\(original) is not a usable context length", path: file.path)
        }
        let attentionKey = "\(arch).rope.scaling.attn_factor"
        let attention = file[attentionKey]?.doubleValue
            ?? DynamicRopeScaling.longropeAttentionFactor(factor: Double(c.contextLength) / Double(original), originalContext: original)
        guard attention.isFinite, attention > 0 else {
            throw ModelError.invalidMetadata(key: attentionKey, reason: "\(attention) is not a positive factor", path: file.path)
        }
        for (name, factors) in [("rope_factors_long.weight", long), ("rope_factors_short.weight", short)]
        where factors.contains(where: { !($0.isFinite && $0 > 0) }) {
            throw ModelError.tensorType(name: name, type: "F32", reason: "RoPE factors must be positive finite numbers", path: file.path)
        }
        return .longrope(short: short.map(Double.init), long: long.map(Double.init), originalContext: original,
                         attentionFactor: attention)
    }
}
