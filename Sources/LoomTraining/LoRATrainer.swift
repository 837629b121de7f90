import Foundation
import LoomFormats
import LoomGeneration
import LoomKernels
import LoomModels

/// What one optimiser step did.
public struct TrainingStepResult: Sendable, Equatable {
    /// 1-based step number.
    public let step: Int
    /// Mean cross-entropy over the batch's non-ignored labels (before the update).
    public let loss: Double
    /// Total L2 norm of the trained gradients (LoRA factors, and norms with
    /// ``LoRATrainingSettings/trainNorms``) before clipping (`clip_grad_norm_`'s return).
    public let gradientNorm: Double
    /// The learning rate the update used.
    public let learningRate: Double
    /// Tokens run forward and backward.
    public let tokens: Int
    /// Labels the loss was averaged over.
    public let labelCount: Int
    /// f16 only: the loss scale the step's backward pass used.
    public var lossScale: Double? = nil
    /// f16 only: the gradients overflowed, so the update was skipped (the loss scale backs off).
    public var skipped = false
}

/// LoRA fine-tuning of a ``LanguageModel`` in-process: each ``step(tokens:labels:)`` runs the
/// batch forward and backward (``DecoderBackward``), clips the gradients
/// (``GradientClipping``), and updates the factors with ``AdamW`` at the rate the
/// ``LearningRateSchedule`` gives — the order of a transformers `Trainer` step. With
/// ``LoRATrainingSettings/trainNorms`` the RMSNorm weights of the adapted layers and the
/// final norm are trained too (``norms``): in the clipped norm, updated without weight decay.
///
/// ```swift
/// let trainer = try LoRATrainer(model: model, lora: LoRATrainingSettings(rank: 8, alpha: 16, targets: [.q, .v]),
///                               schedule: try LearningRateSchedule(kind: .cosine, peak: 2e-4, warmupSteps: 10, totalSteps: 100))
/// trainer.onStep = { print($0.step, $0.loss) }
/// let result = try trainer.step(tokens: [ids], labels: [labels])
/// try trainer.adapter().writePEFT(to: "out", naming: model.config.architecture.tensorNames)
/// ```
public final class LoRATrainer: @unchecked Sendable {
    public let model: LanguageModel
    public let lora: LoRATrainingSettings
    public let schedule: LearningRateSchedule
    /// `--max-grad-norm`; nil for no clipping (the norm is still reported).
    public let maxGradientNorm: Double?
    public let optimizer: AdamW
    /// Dynamic loss scaling, for f16 precision only.
    public let gradScaler: GradScaler?
    /// Called after every step.
    public var onStep: ((TrainingStepResult) -> Void)?
    private let pass: DecoderBackward
    /// Steps taken.
    public internal(set) var stepCount = 0

    /// Creates the LoRA factors as PEFT's default `init_lora_weights=True` does: `A` from
    /// kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in), seeded by `lora.seed`
    /// (splitmix64, not torch's generator), and `B = 0`.
    public init(model: LanguageModel, lora: LoRATrainingSettings, optimizer: AdamWSettings = AdamWSettings(),
                schedule: LearningRateSchedule, maxGradientNorm: Double? = 1.0, pool: ThreadPool = ThreadPool()) throws {
        let c = model.config
        try lora.validate(layerCount: c.layerCount)
        if let maxGradientNorm, !(maxGradientNorm.isFinite && maxGradientNorm > 0) {
            throw TrainingError.invalidParameter("max gradient norm must be a positive number, got \(maxGradientNorm)")
        }
        self.model = model
        self.lora = lora
        self.schedule = schedule
        self.maxGradientNorm = maxGradientNorm
        self.optimizer = try AdamW(settings: optimizer)
        gradScaler = lora.precision == .f16 ? try GradScaler() : nil
        let chosen = Set(lora.layers ?? Array(0..<c.layerCount))
        var random = SplitMix64(seed: lora.seed)
        let qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        let factors: [[LoRAModule: LoRAFactors<Float>]] = (0..<c.layerCount).map { layer in
            guard chosen.contains(layer) else { return [:] }
            var modules: [LoRAModule: LoRAFactors<Float>] = [:]
            for m in lora.targets.sorted() {
                let (inputs, outputs): (Int, Int)
                switch m {
                case .q: (inputs, outputs) = (c.embeddingSize, qDim)
                case .k, .v: (inputs, outputs) = (c.embeddingSize, kvDim)
                case .o: (inputs, outputs) = (qDim, c.embeddingSize)
                case .gate, .up: (inputs, outputs) = (c.embeddingSize, c.feedForwardSize)
                case .down: (inputs, outputs) = (c.feedForwardSize, c.embeddingSize)
                }
                let bound = 1 / Float(inputs).squareRoot()
                let a = (0..<lora.rank * inputs).map { _ in (random.unit() * 2 - 1) * bound }
                modules[m] = LoRAFactors(rank: lora.rank, inputs: inputs, outputs: outputs, scale: Float(lora.scale),
                                         a: a, b: [Float](repeating: 0, count: outputs * lora.rank))
            }
            return modules
        }
        pass = try DecoderBackward(model: model, factors: factors, checkpointing: lora.gradientCheckpointing,
                                   dropout: lora.dropout > 0 ? try LoRADropout(probability: lora.dropout, seed: lora.seed) : nil,
                                   precision: PrecisionPolicy(lora.precision), trainNorms: lora.trainNorms, pool: pool)
    }

    /// Replaces the seeded dropout masks (tests: the masks of a PyTorch fixture).
    var dropoutNoiseOverride: ((LoRADropout.Site, Int) -> [Float])? {
        get { pass.noiseOverride }
        set { pass.noiseOverride = newValue }
    }

    /// The trained factors, `[layer][module]`.
    public var factors: [[LoRAModule: LoRAFactors<Float>]] { pass.factors }

    /// The trained RMSNorm weights (empty unless ``LoRATrainingSettings/trainNorms``): each
    /// adapted layer's attention and feed-forward norms in layer order, then the final norm.
    public var norms: [TrainableNorm] { pass.norms }

    /// Replaces the trained norm `ggufName` (`blk.N.attn_norm.weight`, …, `output_norm.weight`):
    /// a fixture's initial values, a resumed run.
    public func setNorm(_ ggufName: String, values: [Float]) throws {
        guard let norm = norms.first(where: { $0.ggufName == ggufName }) else {
            throw TrainingError.invalidParameter("norm \(ggufName) is not trained (trained: \(norms.map(\.ggufName).joined(separator: ", ")))")
        }
        guard values.count == norm.weight.count else {
            throw TrainingError.invalidParameter("norm \(ggufName): \(values.count) values, expected \(norm.weight.count)")
        }
        for i in 0..<values.count { norm.weight[i] = values[i] }
    }

    /// Bytes of activations the last step kept for its backward pass.
    public var lastActivationBytes: Int { pass.lastActivationBytes }

    /// Replaces the factors of `module` in `layer` (a fixture's initial values, a resumed run).
    public func setFactors(layer: Int, module: LoRAModule, a: [Float], b: [Float]) throws {
        guard layer >= 0, layer < factors.count, let f = factors[layer][module] else {
            throw TrainingError.invalidParameter("layer \(layer) \(module.rawValue) is not adapted")
        }
        guard a.count == f.a.count, b.count == f.b.count else {
            throw TrainingError.invalidParameter("layer \(layer) \(module.rawValue): A has \(a.count) values (expected \(f.a.count)), B \(b.count) (expected \(f.b.count))")
        }
        for i in 0..<a.count { f.a[i] = a[i] }
        for i in 0..<b.count { f.b[i] = b[i] }
    }

    /// Every (parameter, gradient) pair in a fixed order: layers, then q…down, then A before B.
    private var parameters: [(TrainingBuffer<Float>, TrainingBuffer<Float>)] {
        factors.flatMap { layer in layer.keys.sorted().flatMap { m in [(layer[m]!.a, layer[m]!.gradA), (layer[m]!.b, layer[m]!.gradB)] } }
    }

    /// The trained norms' (weight, gradient) pairs, in ``norms`` order.
    private var normParameters: [(TrainingBuffer<Float>, TrainingBuffer<Float>)] { norms.map { ($0.weight, $0.gradient) } }

    /// Checks a batch and returns its count of non-ignored (shifted) labels.
    private func validate(tokens: [[Int32]], labels: [[Int32]]) throws -> Int {
        try Self.validate(tokens: tokens, labels: labels, vocabularySize: model.config.vocabularySize)
    }

    /// Checks a batch for a vocabulary of `vocab` tokens (``QATTrainer`` too) and returns its
    /// count of non-ignored (shifted) labels.
    static func validate(tokens: [[Int32]], labels: [[Int32]], vocabularySize vocab: Int) throws -> Int {
        guard !tokens.isEmpty, tokens.count == labels.count else {
            throw TrainingError.invalidParameter("a batch needs ≥ 1 sequence and one label list per sequence (got \(tokens.count) and \(labels.count))")
        }
        var count = 0
        for (i, (t, l)) in zip(tokens, labels).enumerated() {
            guard !t.isEmpty, t.count == l.count else {
                throw TrainingError.invalidParameter("sequence \(i): \(t.count) tokens and \(l.count) labels (need equal, non-zero)")
            }
            if let bad = t.first(where: { $0 < 0 || Int($0) >= vocab }) {
                throw TrainingError.invalidParameter("sequence \(i): token \(bad) is outside the vocabulary 0..<\(vocab)")
            }
            if let bad = l.first(where: { $0 != CrossEntropyOp.ignoreIndex && ($0 < 0 || Int($0) >= vocab) }) {
                throw TrainingError.invalidParameter("sequence \(i): label \(bad) is neither -100 nor in 0..<\(vocab)")
            }
            count += CrossEntropyOp.shiftedTargets(l).filter { $0 != CrossEntropyOp.ignoreIndex }.count
        }
        guard count > 0 else {
            throw TrainingError.invalidParameter("every label of the batch is -100 (after the shift), nothing to learn from")
        }
        return count
    }

    /// The loss of a batch and the LoRA gradients (left in ``factors``, unclipped), without
    /// an update. `training` applies the LoRA dropout (with the masks of the next step,
    /// ``stepCount``, and each sequence's index in the batch); evaluation passes false, as
    /// PEFT's dropout is off after `model.eval()`.
    public func lossAndGradients(tokens: [[Int32]], labels: [[Int32]], training: Bool = true) throws -> (loss: Double, labelCount: Int) {
        try lossAndGradients(tokens: tokens, labels: labels, training: training, lossScale: 1)
    }

    /// The same, with the gradients of `lossScale ×` the loss (f16 loss scaling).
    func lossAndGradients(tokens: [[Int32]], labels: [[Int32]], training: Bool, lossScale: Double) throws -> (loss: Double, labelCount: Int) {
        let count = try validate(tokens: tokens, labels: labels)
        for layer in factors { for f in layer.values { f.zeroGradients() } }
        for norm in norms { norm.gradient.zero() }
        var total = 0.0
        for (i, (t, l)) in zip(tokens, labels).enumerated() {
            total += pass.lossAndGradients(tokens: t, labels: l, gradScale: Float(lossScale) / Float(count),
                                           dropoutSite: training ? (stepCount, i) : nil)
        }
        return (total / Double(count), count)
    }

    /// One optimiser step on a batch of sequences (each attends only to itself; the loss is
    /// the mean over all their non-ignored labels, as HF's over a padded batch). Fails
    /// before changing anything if the loss is NaN or infinite.
    ///
    /// In f16, the backward pass runs on the loss times ``GradScaler/scale``; the gradients are
    /// unscaled before clipping, and if any is inf or NaN the update is skipped (the result
    /// says so, the step still counts as a step of the run but not as an optimiser step:
    /// AdamW's bias correction and the learning-rate schedule advance with the optimiser
    /// steps, as in transformers' Trainer, which does not step the scheduler after a skipped
    /// optimiser step).
    @discardableResult
    public func step(tokens: [[Int32]], labels: [[Int32]]) throws -> TrainingStepResult {
        let scale = gradScaler?.scale ?? 1
        let (loss, count) = try lossAndGradients(tokens: tokens, labels: labels, training: true, lossScale: scale)
        guard loss.isFinite else {
            throw TrainingError.invalidParameter("the loss of step \(stepCount + 1) is \(loss); stopped before the update")
        }
        let params = parameters, normParams = normParameters
        let gradients = params.map(\.1) + normParams.map(\.1)
        let lr = schedule.rate(atStep: optimizer.step)
        let tokenCount = tokens.reduce(0) { $0 + $1.count }
        if let gradScaler {
            let finite = gradScaler.unscale(gradients)
            gradScaler.update(foundInfinite: !finite)
            if !finite {
                stepCount += 1
                let result = TrainingStepResult(step: stepCount, loss: loss, gradientNorm: .infinity, learningRate: lr,
                                                tokens: tokenCount, labelCount: count, lossScale: scale, skipped: true)
                onStep?(result)
                return result
            }
        }
        let norm = TrainingProfile.time("clipping and AdamW") {
            let norm = GradientClipping.clip(gradients, maxNorm: maxGradientNorm)
            optimizer.update(params, lr: lr, undecayed: normParams)
            return norm
        }
        stepCount += 1
        let result = TrainingStepResult(step: stepCount, loss: loss, gradientNorm: norm, learningRate: lr,
                                        tokens: tokenCount, labelCount: count, lossScale: gradScaler == nil ? nil : scale)
        onStep?(result)
        return result
    }

    /// The current factors as a ``LoRAAdapter`` in the base's Q/K row order (GGUF llama
    /// bases are permuted; ``LoRAAdapter/reordered(to:headCount:kvHeadCount:permutesQK:)``
    /// converts, and ``writePEFT(to:)`` does so).
    public func adapter(path: String = "trained") -> LoRAAdapter {
        var modules: [String: LoRAAdapter.Module] = [:]
        for (layer, ms) in factors.enumerated() {
            for (m, f) in ms {
                modules[m.ggufTensor(layer: layer)] = LoRAAdapter.Module(rank: f.rank, inputs: f.inputs, outputs: f.outputs,
                                                                         a: f.a.array, b: f.b.array, scale: f.scale)
            }
        }
        let c = model.config
        return LoRAAdapter(path: path, architecture: c.architecture.ggufWriteName,
                           space: c.ropeLayout == .adjacent ? .gguf : .huggingFace, modules: modules,
                           norms: Dictionary(uniqueKeysWithValues: norms.map { ($0.ggufName, $0.weight.array) }))
    }

    /// Writes the adapter as a PEFT directory (`adapter_config.json` +
    /// `adapter_model.safetensors`), in Hugging Face row order; trained norms are stored as
    /// PEFT stores `modules_to_save`.
    public func writePEFT(to directory: String) throws {
        let c = model.config
        try adapter(path: directory).reordered(to: .huggingFace, headCount: c.headCount, kvHeadCount: c.kvHeadCount,
                                               permutesQK: c.architecture.permutesQK)
            .writePEFT(to: directory, naming: c.architecture.tensorNames, layerCount: c.layerCount, dropout: lora.dropout)
    }

    /// Writes the adapter as a llama.cpp GGUF LoRA (`llama-cli --lora`, Loom's `--lora`), in
    /// GGUF row order, F32 or F16.
    /// - Throws: ``TrainingError/invalidParameter(_:)`` with trained norms: llama.cpp's GGUF
    ///   LoRA holds only `lora_a`/`lora_b` pairs, so the norms would be silently lost.
    public func writeGGUF(to path: String, type: GGMLType = .f32) throws {
        guard norms.isEmpty else {
            throw TrainingError.invalidParameter("\(path): a GGUF LoRA cannot hold the trained norms (--train-norms; llama.cpp's adapter has only lora_a/lora_b tensors); use the PEFT directory, or merge it with `loom export-lora`")
        }
        let c = model.config
        try adapter(path: path).reordered(to: .gguf, headCount: c.headCount, kvHeadCount: c.kvHeadCount,
                                          permutesQK: c.architecture.permutesQK)
            .writeGGUF(to: path, architecture: c.architecture.ggufWriteName, type: type)
    }
}
