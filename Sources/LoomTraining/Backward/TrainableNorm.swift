/// One RMSNorm weight trained alongside the LoRA factors (`--train-norms`; PEFT
/// `modules_to_save` on the norm): its values, used by the forward pass in place of the
/// model's, and the accumulated gradient (the caller zeroes it).
public final class TrainableNorm: @unchecked Sendable {
    /// The GGUF tensor name (`blk.N.attn_norm.weight`, `blk.N.ffn_norm.weight`,
    /// `output_norm.weight`), the key of ``LoRAAdapter/norms``.
    public let ggufName: String
    /// `[d]`.
    public let weight: TrainingBuffer<Float>
    /// `∂L/∂weight`, `[d]`.
    public let gradient: TrainingBuffer<Float>

    public init(ggufName: String, weight: TrainingBuffer<Float>) {
        self.ggufName = ggufName
        self.weight = weight
        gradient = TrainingBuffer(zeros: weight.count)
    }

    /// The names a decoder's trained norms get: layer `l`'s input norm (HF
    /// `input_layernorm`) and post-attention norm (`post_attention_layernorm`), and the final
    /// norm (`model.norm`).
    static func attentionNormName(layer l: Int) -> String { "blk.\(l).attn_norm.weight" }
    static func feedForwardNormName(layer l: Int) -> String { "blk.\(l).ffn_norm.weight" }
    static let finalNormName = "output_norm.weight"
}
