import Foundation
import LoomKernels
import LoomModels

/// Quantisation-aware fine-tuning of a ``LanguageModel`` towards ternary weights
/// (`loom finetune --qat ternary`, issue #24): every chosen projection becomes a
/// ``QATProjection`` — an f32 latent copy of its weight, run forward fake-quantised to
/// ternary weights and int8 activations with the warm-up factor λ (``QATSettings/lambda(afterSteps:)``)
/// and trained through the straight-through estimator — while the embedding, the norms and
/// the LM head stay frozen (BitNet b1.58 keeps the head in full precision).
///
/// A step is the one of ``LoRATrainer`` (a transformers `Trainer` step): `W_eff` refreshed
/// for the step's λ, the batch forward and backward (``DecoderBackward``), the gradients
/// clipped over all latent weights (``GradientClipping``), and AdamW on the latent weights
/// with the configured weight decay.
///
/// ```swift
/// let trainer = try QATTrainer(model: model, settings: QATSettings(warmupSteps: 100),
///                              schedule: try LearningRateSchedule(kind: .constant, peak: 1e-4, warmupSteps: 0, totalSteps: 500))
/// let result = try trainer.step(tokens: [ids], labels: [ids])
/// let ternaryLoss = try trainer.lossAndGradients(tokens: [heldOut], labels: [heldOut], lambda: 1).loss
/// ```
public final class QATTrainer: @unchecked Sendable {
    public let model: LanguageModel
    public let settings: QATSettings
    public let schedule: LearningRateSchedule
    /// `--max-grad-norm`; nil for no clipping (the norm is still reported).
    public let maxGradientNorm: Double?
    public let optimizer: AdamW
    /// The trained projections, in layer order and q…down within a layer.
    public let projections: [QATProjection]
    /// Called after every step.
    public var onStep: ((TrainingStepResult) -> Void)?
    /// Optimiser steps taken.
    public internal(set) var stepCount = 0
    private let pass: DecoderBackward

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for bad settings, fused-projection or
    ///   BitNet-packed models (``DecoderBackward``).
    public init(model: LanguageModel, settings: QATSettings, optimizer: AdamWSettings = AdamWSettings(weightDecay: 0),
                schedule: LearningRateSchedule, maxGradientNorm: Double? = 1.0, pool: ThreadPool = ThreadPool()) throws {
        let c = model.config
        try settings.validate(layerCount: c.layerCount)
        if let maxGradientNorm, !(maxGradientNorm.isFinite && maxGradientNorm > 0) {
            throw TrainingError.invalidParameter("max gradient norm must be a positive number, got \(maxGradientNorm)")
        }
        self.model = model
        self.settings = settings
        self.schedule = schedule
        self.maxGradientNorm = maxGradientNorm
        self.optimizer = try AdamW(settings: optimizer)
        let chosen = Set(settings.layers ?? Array(0..<c.layerCount))
        // DecoderBackward refuses fused (Phi-3) and BitNet-packed models before anything
        // below reads their projections; check here too so no latent copy is made first.
        guard !c.architecture.fusedQKV, !c.architecture.fusedGateUp, !c.architecture.subLayerNorms else {
            throw TrainingError.invalidParameter("\(c.architecture.name): quantisation-aware training supports llama-style (separate q/k/v, gate/up) models")
        }
        guard model.weights.layers.allSatisfy({ $0.projections.allSatisfy { $0.bitLinear == nil } }) else {
            throw TrainingError.invalidParameter("\(model.path) is already BitNet-packed (ternary); QAT starts from a block-format or float model")
        }
        let qat: [[LoRAModule: QATProjection]] = model.weights.layers.enumerated().map { index, layer in
            guard chosen.contains(index) else { return [:] }
            var modules: [LoRAModule: QATProjection] = [:]
            for m in settings.modules {
                modules[m] = QATProjection(layer: index, module: m, projection: Self.projection(m, of: layer))
            }
            return modules
        }
        projections = qat.flatMap { layer in layer.keys.sorted().map { layer[$0]! } }
        pass = try DecoderBackward(model: model, factors: Array(repeating: [:], count: c.layerCount),
                                   checkpointing: settings.gradientCheckpointing, qat: qat, pool: pool)
    }

    /// The base projection `module` of `layer`.
    static func projection(_ module: LoRAModule, of layer: DecoderWeights.Layer) -> Projection {
        switch module {
        case .q: return layer.query
        case .k: return layer.key
        case .v: return layer.value
        case .o: return layer.attentionOutput
        case .gate: return layer.gate
        case .up: return layer.up
        case .down: return layer.down
        }
    }

    /// The trained projection `module` of `layer`, if it is trained.
    public func projection(layer: Int, module: LoRAModule) -> QATProjection? {
        projections.first { $0.layer == layer && $0.module == module }
    }

    /// λ of the next step (``stepCount`` updates done).
    public var currentLambda: Double { settings.lambda(afterSteps: stepCount) }

    /// Replaces the latent weight of `module` in `layer` (a fixture's initial values, a resumed run).
    public func setLatent(layer: Int, module: LoRAModule, values: [Float]) throws {
        guard let p = projection(layer: layer, module: module) else {
            throw TrainingError.invalidParameter("layer \(layer) \(module.rawValue) is not QAT-trained")
        }
        guard values.count == p.latent.count else {
            throw TrainingError.invalidParameter("layer \(layer) \(module.rawValue): \(values.count) values, expected \(p.latent.count)")
        }
        for i in 0..<values.count { p.latent[i] = values[i] }
    }

    /// Bytes of activations the last pass kept for its backward pass.
    public var lastActivationBytes: Int { pass.lastActivationBytes }

    /// The loss of a batch with the latent weights fake-quantised at `lambda` (default: the
    /// next step's, ``currentLambda``), and the latent gradients (left in each projection's
    /// ``QATProjection/gradient``, unclipped), without an update. `lambda: 1` gives the loss
    /// of the ternary-weight, int8-activation model the latent weights round to.
    public func lossAndGradients(tokens: [[Int32]], labels: [[Int32]], lambda: Double? = nil) throws -> (loss: Double, labelCount: Int) {
        let count = try LoRATrainer.validate(tokens: tokens, labels: labels, vocabularySize: model.config.vocabularySize)
        let l = lambda ?? currentLambda
        guard l.isFinite, (0...1).contains(l) else { throw TrainingError.invalidParameter("λ must be in [0, 1], got \(l)") }
        for p in projections {
            p.refresh(lambda: Float(l))
            p.gradient.zero()
        }
        var total = 0.0
        for (t, lab) in zip(tokens, labels) {
            total += pass.lossAndGradients(tokens: t, labels: lab, gradScale: 1 / Float(count))
        }
        return (total / Double(count), count)
    }

    /// One optimiser step on a batch of sequences at λ = ``currentLambda`` (or `lambda`, which
    /// overrides the warm-up: tests of a fixed λ). Each sequence attends only to itself; the
    /// loss is the mean over all their non-ignored labels. Fails before changing anything if
    /// the loss is NaN or infinite.
    @discardableResult
    public func step(tokens: [[Int32]], labels: [[Int32]], lambda: Double? = nil) throws -> TrainingStepResult {
        let (loss, count) = try lossAndGradients(tokens: tokens, labels: labels, lambda: lambda)
        guard loss.isFinite else {
            throw TrainingError.invalidParameter("the loss of step \(stepCount + 1) is \(loss); stopped before the update")
        }
        let params = projections.map { ($0.latent, $0.gradient) }
        let lr = schedule.rate(atStep: optimizer.step)
        let norm = GradientClipping.clip(params.map(\.1), maxNorm: maxGradientNorm)
        optimizer.update(params, lr: lr)
        stepCount += 1
        let result = TrainingStepResult(step: stepCount, loss: loss, gradientNorm: norm, learningRate: lr,
                                        tokens: tokens.reduce(0) { $0 + $1.count }, labelCount: count)
        onStep?(result)
        return result
    }
}
