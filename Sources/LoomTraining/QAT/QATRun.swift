import Foundation
import LoomKernels
import LoomModels

/// A whole quantisation-aware fine-tuning run (`loom finetune --qat ternary`): the training
/// loop of ``FineTuneRun`` — the same shuffled epochs (``FineTuneRun/shuffledOrder(count:seed:epoch:)``),
/// steps of `batchSize × gradientAccumulation` sequences, learning-rate schedule, clipping
/// and AdamW from the ``FineTuneConfig`` — driving a ``QATTrainer`` instead of LoRA factors.
/// `--target` and `--layers` choose the trained projections; the LoRA hyper-parameters do
/// not apply.
///
/// The evaluation loss is always taken at λ = 1: it is the loss of the ternary model the
/// latent weights round to, whatever the warm-up has reached.
///
/// Checkpoints hold the latent weights and AdamW's moments (``saveCheckpoint(to:)``), and
/// ``resume(from:)`` continues with the same losses.
public final class QATRun: @unchecked Sendable {
    public let model: LanguageModel
    public let config: FineTuneConfig
    public let sequences: [TrainingSequence]
    public let validation: [TrainingSequence]
    public let trainer: QATTrainer
    public let totalSteps: Int
    public let stepsPerEpoch: Int
    /// Called after every optimiser step with its progress and the λ it ran at.
    public var onStep: ((FineTuneProgress, Double) -> Void)?
    /// Asked before every step; true makes ``run(untilStep:)`` return.
    public var shouldStop: (() -> Bool)?
    /// Checkpointing: `saveSteps`, `checkpointDirectory` and `saveTotalLimit` as in a
    /// ``FineTuneRun`` (`gradientCheckpointing` is the init's argument here).
    public let options: FineTuneRun.Options
    /// Called with the directory of every checkpoint saved.
    public var onCheckpoint: ((String) -> Void)?
    /// The newest checkpoint saved or resumed from.
    public internal(set) var lastCheckpoint: String?
    /// What identifies the run for ``resume(from:)``: ``FineTuneRun``'s fingerprint of model,
    /// data and hyper-parameters, plus the QAT target and warm-up.
    let fingerprint: [String: String]

    public var step: Int { trainer.stepCount }

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a bad config or a `--target`
    ///   naming no decoder projection, ``TrainingError/emptyDataset(path:)`` for no sequences.
    public init(model: LanguageModel, config: FineTuneConfig, warmupSteps: Int, sequences: [TrainingSequence],
                validation: [TrainingSequence] = [], gradientCheckpointing: Bool = false, options: FineTuneRun.Options = .init(),
                pool: ThreadPool = ThreadPool()) throws {
        try config.validate()
        guard !sequences.isEmpty else { throw TrainingError.emptyDataset(path: "the training set") }
        if let saveSteps = options.saveSteps {
            guard saveSteps >= 1 else { throw TrainingError.invalidParameter("--save-steps must be ≥ 1, got \(saveSteps)") }
            guard options.checkpointDirectory != nil else {
                throw TrainingError.invalidParameter("--save-steps needs a directory to save the checkpoints in")
            }
        }
        if let limit = options.saveTotalLimit, limit < 1 {
            throw TrainingError.invalidParameter("--save-total-limit must be ≥ 1, got \(limit)")
        }
        self.options = options
        let layerCount = model.config.layerCount
        let layers = try config.layers.resolve(layerCount: layerCount)
        var modules = Set<LoRAModule>()
        for name in config.targets.moduleNames {
            guard let module = LoRAModule(rawValue: name) else {
                throw TrainingError.invalidParameter("--target: \(name) is not a projection QAT trains")
            }
            modules.insert(module)
        }
        let settings = QATSettings(modules: modules, layers: layers.count == layerCount ? nil : layers, warmupSteps: warmupSteps,
                                   gradientCheckpointing: gradientCheckpointing)
        let schedule = try config.schedule(exampleCount: sequences.count)
        trainer = try QATTrainer(
            model: model, settings: settings,
            optimizer: AdamWSettings(beta1: config.betas.0, beta2: config.betas.1, eps: config.epsilon, weightDecay: config.weightDecay),
            schedule: schedule, maxGradientNorm: config.maxGradNorm > 0 ? config.maxGradNorm : nil, pool: pool)
        self.model = model
        self.config = config
        self.sequences = sequences
        self.validation = validation
        totalSteps = schedule.totalSteps
        let microBatches = (sequences.count + config.batchSize - 1) / config.batchSize
        stepsPerEpoch = max(1, (microBatches + config.gradientAccumulation - 1) / config.gradientAccumulation)
        fingerprint = FineTuneRun.fingerprint(model: model, config: config, sequences: sequences, totalSteps: totalSteps)
            .merging(["--qat": settings.target.rawValue, "--qat-warmup-steps": "\(warmupSteps)"]) { $1 }
    }

    /// The indices of the sequences optimiser step `step` (0-based) trains on — the batches
    /// of a ``FineTuneRun`` with the same config and data.
    public func batch(step: Int) -> [Int] {
        let epoch = step / stepsPerEpoch, k = step % stepsPerEpoch
        let perStep = config.batchSize * config.gradientAccumulation
        let order = FineTuneRun.shuffledOrder(count: sequences.count, seed: config.seed, epoch: epoch)
        return Array(order[min(order.count, k * perStep)..<min(order.count, (k + 1) * perStep)])
    }

    /// Runs optimiser steps until `untilStep` (default: the end of the run).
    /// - Throws: ``FineTuneRunError/nonFiniteLoss(step:loss:lastCheckpoint:)`` when a step's
    ///   loss is NaN or infinite (nothing of that step is applied), and the trainer's errors.
    @discardableResult
    public func run(untilStep: Int? = nil) throws -> [FineTuneProgress] {
        let end = min(totalSteps, untilStep ?? totalSteps)
        let started = DispatchTime.now().uptimeNanoseconds
        var done: [FineTuneProgress] = []
        if let directory = options.checkpointDirectory { FineTuneRun.recoverCheckpoints(in: directory) }
        while trainer.stepCount < end, shouldStop?() != true {
            let index = trainer.stepCount
            let lambda = trainer.currentLambda
            let (tokens, labels) = FineTuneRun.tensors(batch(step: index).map { sequences[$0] })
            let t0 = DispatchTime.now().uptimeNanoseconds
            let result: TrainingStepResult
            do {
                result = try trainer.step(tokens: tokens, labels: labels)
            } catch {
                if trainer.stepCount == index, let evaluated = try? trainer.lossAndGradients(tokens: tokens, labels: labels),
                   !evaluated.loss.isFinite {
                    throw FineTuneRunError.nonFiniteLoss(step: index + 1, loss: evaluated.loss, lastCheckpoint: lastCheckpoint)
                }
                throw error
            }
            let now = DispatchTime.now().uptimeNanoseconds
            var evalLoss: Double?
            if !validation.isEmpty, result.step == totalSteps || config.evalSteps.map({ result.step % $0 == 0 }) == true {
                evalLoss = try evaluationLoss()
            }
            let progress = FineTuneProgress(
                step: result.step, totalSteps: totalSteps, epoch: Double(result.step) / Double(stepsPerEpoch), loss: result.loss,
                learningRate: result.learningRate, gradientNorm: result.gradientNorm, tokens: result.tokens,
                tokensPerSecond: Double(result.tokens) / max(1e-9, Double(now - t0) / 1e9), elapsed: Double(now - started) / 1e9,
                evalLoss: evalLoss)
            done.append(progress)
            onStep?(progress, lambda)
            if let saveSteps = options.saveSteps, let directory = options.checkpointDirectory, result.step % saveSteps == 0 {
                let path = (directory as NSString).appendingPathComponent("checkpoint-\(result.step)")
                try saveCheckpoint(to: path)
                onCheckpoint?(path)
                if let limit = options.saveTotalLimit { try FineTuneRun.pruneCheckpoints(in: directory, keeping: limit) }
            }
        }
        return done
    }

    /// The mean loss over the validation sequences' trained tokens with the latent weights
    /// fake-quantised at `lambda` (default 1: the ternary model's loss; 0: the unquantised
    /// latent weights, at step 0 the base model's loss). nil without validation data.
    public func evaluationLoss(lambda: Double = 1) throws -> Double? {
        guard !validation.isEmpty else { return nil }
        let (tokens, labels) = FineTuneRun.tensors(validation)
        // The pass computes gradients as well; the next step zeroes them.
        return try trainer.lossAndGradients(tokens: tokens, labels: labels, lambda: lambda).loss
    }
}
