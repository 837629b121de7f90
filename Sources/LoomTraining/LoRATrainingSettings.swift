/// What the trainer adapts and how: PEFT `LoraConfig`'s `r`, `lora_alpha`, `use_rslora`,
/// `target_modules`, `layers_to_transform`, `lora_dropout` and `modules_to_save` (norms only),
/// plus gradient checkpointing;
/// the CLI's parsing of `--target`/`--layers` lives elsewhere and produces these plain values.
public struct LoRATrainingSettings: Sendable, Equatable {
    /// Rank r.
    public var rank: Int
    /// `lora_alpha`.
    public var alpha: Double
    /// rsLoRA (Kalajdzievski 2023): scale `alpha/√r` instead of `alpha/r`.
    public var useRSLoRA: Bool
    /// Adapted projections in every chosen layer.
    public var targets: Set<LoRAModule>
    /// Layers to adapt (0-based); nil for all.
    public var layers: [Int]?
    /// Seed of the initial A (B starts at zero, as PEFT's default `init_lora_weights=True`).
    public var seed: UInt64
    /// Keep only each layer's input in the forward pass and recompute the layer during the
    /// backward pass (`--grad-checkpoint`; HF `gradient_checkpointing_enable()`).
    public var gradientCheckpointing: Bool
    /// `lora_dropout` p in [0, 1): dropout on each adapted module's LoRA input in train mode
    /// (``LoRADropout``), its masks seeded by ``seed``.
    public var dropout: Double
    /// Activations and gradients in f32, or bf16/f16 as under `torch.autocast` (``PrecisionPolicy``);
    /// the factors and AdamW stay f32. f16 adds dynamic loss scaling (``GradScaler``).
    public var precision: FineTuneConfig.Precision
    /// Also train the RMSNorm weights (`--train-norms`): `input_layernorm` and
    /// `post_attention_layernorm` of every adapted layer, and the final `model.norm` — PEFT's
    /// `modules_to_save` on them. AdamW does not decay them (transformers' Trainer).
    public var trainNorms: Bool

    public init(rank: Int = 8, alpha: Double = 16, useRSLoRA: Bool = false, targets: Set<LoRAModule> = [.q, .v],
                layers: [Int]? = nil, seed: UInt64 = 0, gradientCheckpointing: Bool = false, dropout: Double = 0,
                precision: FineTuneConfig.Precision = .f32, trainNorms: Bool = false) {
        self.rank = rank
        self.alpha = alpha
        self.useRSLoRA = useRSLoRA
        self.targets = targets
        self.layers = layers
        self.seed = seed
        self.gradientCheckpointing = gradientCheckpointing
        self.dropout = dropout
        self.precision = precision
        self.trainNorms = trainNorms
    }

    /// PEFT's `scaling`: `lora_alpha / r`, or `lora_alpha / √r` with rsLoRA.
    public var scale: Double { useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank) }

    /// Checks the values against a model of `layerCount` layers.
    func validate(layerCount: Int) throws {
        guard rank >= 1 else { throw TrainingError.invalidParameter("LoRA rank must be ≥ 1, got \(rank)") }
        guard alpha.isFinite, alpha > 0 else { throw TrainingError.invalidParameter("LoRA alpha must be a positive number, got \(alpha)") }
        guard dropout.isFinite, dropout >= 0, dropout < 1 else {
            throw TrainingError.invalidParameter("LoRA dropout must be in [0, 1), got \(dropout)")
        }
        guard !targets.isEmpty else { throw TrainingError.invalidParameter("no LoRA target module chosen") }
        if let layers {
            guard !layers.isEmpty else { throw TrainingError.invalidParameter("no layer chosen for LoRA") }
            if let bad = layers.first(where: { $0 < 0 || $0 >= layerCount }) {
                throw TrainingError.invalidParameter("layer \(bad) is outside the model's 0..<\(layerCount)")
            }
        }
    }
}
