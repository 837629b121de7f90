import Foundation
import LoomFormats
import LoomGeneration
import LoomKernels
import LoomModels

/// A whole LoRA fine-tuning run in-process: the training loop of `loom finetune`, for apps.
///
/// It drives a ``LoRATrainer`` over the built ``TrainingSequence``s as transformers' `Trainer`
/// does (`_inner_training_loop`): each epoch visits the sequences in a shuffled order, an
/// optimiser step takes `batchSize × gradientAccumulation` of them (the last step of an epoch
/// may take fewer), and the loss of a step is the mean over all trained tokens of all its
/// micro-batches — transformers ≥ 4.46's `num_items_in_batch` normalisation, so accumulating
/// k micro-batches gives the gradient of one k-times larger batch. Each step is warm-up +
/// schedule, clipping and AdamW (``LoRATrainer/step(tokens:labels:)``).
///
/// The run is deterministic for a ``FineTuneConfig/seed``: the LoRA init comes from it, and
/// the order of epoch e is a Fisher–Yates shuffle by a SplitMix64 generator seeded from
/// (seed, e), so the batch of any step is a function of the step number. A checkpoint
/// (``saveCheckpoint(to:)``) therefore holds the factors, the AdamW moments and the step, and
/// ``resume(from:)`` continues with bit-identical losses.
///
/// Packed sequences (``FineTuneConfig/packing``) are supported exactly: each packed segment
/// is run as its own sequence of the step, which is what attention restricted to the segment
/// with positions restarting at 0 computes (the segment's first label is always -100, so no
/// label crosses a boundary).
///
/// ```swift
/// let run = try FineTuneRun(model: model, config: config, sequences: sequences)
/// run.onStep = { print($0.step, $0.loss) }
/// try run.run()
/// try run.writeAdapter(to: "out")
/// ```
public final class FineTuneRun: @unchecked Sendable {
    /// What the run does beyond the hyper-parameters.
    public struct Options: Sendable {
        /// Recompute each layer in the backward pass (`--grad-checkpoint`); same results.
        public var gradientCheckpointing = false
        /// Save a checkpoint every N optimiser steps (`--save-steps`) into
        /// ``checkpointDirectory``/`checkpoint-STEP`.
        public var saveSteps: Int?
        public var checkpointDirectory: String?
        /// Keep only the newest N checkpoints (`--save-total-limit`, transformers'
        /// `save_total_limit`); nil keeps all.
        public var saveTotalLimit: Int?

        public init(gradientCheckpointing: Bool = false, saveSteps: Int? = nil, checkpointDirectory: String? = nil,
                    saveTotalLimit: Int? = nil) {
            self.gradientCheckpointing = gradientCheckpointing
            self.saveSteps = saveSteps
            self.checkpointDirectory = checkpointDirectory
            self.saveTotalLimit = saveTotalLimit
        }
    }

    public let model: LanguageModel
    public let config: FineTuneConfig
    public let options: Options
    /// The training sequences, in their built order.
    public let sequences: [TrainingSequence]
    /// Held-out sequences for the evaluation loss (may be empty).
    public let validation: [TrainingSequence]
    /// The trainer holding the factors and the optimiser.
    public let trainer: LoRATrainer
    /// Optimiser steps of the whole run, and per epoch.
    public let totalSteps: Int
    public let stepsPerEpoch: Int
    /// Called after every optimiser step.
    public var onStep: ((FineTuneProgress) -> Void)?
    /// Called with the directory of every checkpoint saved.
    public var onCheckpoint: ((String) -> Void)?
    /// Asked before every step; returning true makes ``run(untilStep:)`` return after the
    /// step in progress (an interrupt: the caller may then ``saveCheckpoint(to:)``).
    public var shouldStop: (() -> Bool)?
    /// The newest checkpoint saved or resumed from.
    public internal(set) var lastCheckpoint: String?
    /// What identifies the run for ``resume(from:)``: model, data and hyper-parameters.
    let fingerprint: [String: String]
    private var cachedOrder: (epoch: Int, order: [Int])?

    /// Optimiser steps taken (including those of a resumed checkpoint).
    public var step: Int { trainer.stepCount }

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a bad config,
    ///   ``TrainingError/emptyDataset(path:)`` for no sequences, and the layer-selection errors.
    public init(model: LanguageModel, config: FineTuneConfig, sequences: [TrainingSequence],
                validation: [TrainingSequence] = [], options: Options = Options(), pool: ThreadPool = ThreadPool()) throws {
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
        let layerCount = model.config.layerCount
        let layers = try config.layers.resolve(layerCount: layerCount)
        var targets = Set<LoRAModule>()
        for name in config.targets.moduleNames {
            guard let module = LoRAModule(rawValue: name) else {
                throw TrainingError.invalidParameter("--target: \(name) is not a projection the trainer adapts")
            }
            targets.insert(module)
        }
        let settings = LoRATrainingSettings(rank: config.loraRank, alpha: config.loraAlpha, useRSLoRA: config.useRSLoRA,
                                            targets: targets, layers: layers.count == layerCount ? nil : layers,
                                            seed: config.seed, gradientCheckpointing: options.gradientCheckpointing,
                                            dropout: config.loraDropout, precision: config.precision, trainNorms: config.trainNorms)
        let schedule = try config.schedule(exampleCount: sequences.count)
        trainer = try LoRATrainer(
            model: model, lora: settings,
            optimizer: AdamWSettings(beta1: config.betas.0, beta2: config.betas.1, eps: config.epsilon, weightDecay: config.weightDecay),
            schedule: schedule, maxGradientNorm: config.maxGradNorm > 0 ? config.maxGradNorm : nil, pool: pool)
        self.model = model
        self.config = config
        self.options = options
        self.sequences = sequences
        self.validation = validation
        totalSteps = schedule.totalSteps
        let microBatches = (sequences.count + config.batchSize - 1) / config.batchSize
        stepsPerEpoch = max(1, (microBatches + config.gradientAccumulation - 1) / config.gradientAccumulation)
        fingerprint = FineTuneRun.fingerprint(model: model, config: config, sequences: sequences, totalSteps: totalSteps)
    }

    /// The order of the sequences in epoch `epoch` (0-based).
    public func order(epoch: Int) -> [Int] {
        if let cachedOrder, cachedOrder.epoch == epoch { return cachedOrder.order }
        let order = Self.shuffledOrder(count: sequences.count, seed: config.seed, epoch: epoch)
        cachedOrder = (epoch, order)
        return order
    }

    /// The order of `count` sequences in epoch `epoch` for `seed` (``QATRun`` uses it too).
    static func shuffledOrder(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        // A stream apart from the LoRA init's (which is seeded with `seed` itself).
        var random = SplitMix64(seed: seed ^ (0xD1B5_4A32_D192_ED03 &* UInt64(epoch + 1)))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return order
    }

    /// The indices of the sequences optimiser step `step` (0-based) trains on.
    public func batch(step: Int) -> [Int] {
        let epoch = step / stepsPerEpoch, k = step % stepsPerEpoch
        let perStep = config.batchSize * config.gradientAccumulation
        let order = order(epoch: epoch)
        return Array(order[min(order.count, k * perStep)..<min(order.count, (k + 1) * perStep)])
    }

    /// The trainer's input for `sequences`: each packed segment as a sequence of its own.
    static func tensors(_ sequences: [TrainingSequence]) -> (tokens: [[Int32]], labels: [[Int32]]) {
        var tokens: [[Int32]] = [], labels: [[Int32]] = []
        for s in sequences {
            var start = 0
            while start < s.count {
                var end = start + 1
                while end < s.count, s.segmentIDs[end] == s.segmentIDs[start] { end += 1 }
                tokens.append(s.inputIDs[start..<end].map { Int32(truncatingIfNeeded: $0) })
                labels.append(s.labels[start..<end].map { Int32(truncatingIfNeeded: $0) })
                start = end
            }
        }
        return (tokens, labels)
    }

    /// Runs optimiser steps until `untilStep` (default: the end of the run), calling
    /// ``onStep`` after each and saving a checkpoint every ``Options/saveSteps``.
    /// - Throws: ``FineTuneRunError/nonFiniteLoss(step:loss:lastCheckpoint:)`` when a step's
    ///   loss is NaN or infinite (nothing of that step is applied),
    ///   ``FineTuneRunError/saveFailed(path:reason:)``, and the trainer's errors.
    @discardableResult
    public func run(untilStep: Int? = nil) throws -> [FineTuneProgress] {
        let end = min(totalSteps, untilStep ?? totalSteps)
        let started = DispatchTime.now().uptimeNanoseconds
        var done: [FineTuneProgress] = []
        if let directory = options.checkpointDirectory { Self.recoverCheckpoints(in: directory) }
        while trainer.stepCount < end, shouldStop?() != true {
            let index = trainer.stepCount
            let (tokens, labels) = Self.tensors(batch(step: index).map { sequences[$0] })
            let t0 = DispatchTime.now().uptimeNanoseconds
            let result: TrainingStepResult
            do {
                result = try trainer.step(tokens: tokens, labels: labels)
            } catch {
                // The trainer refuses a non-finite loss before updating; name it with the step.
                if trainer.stepCount == index, let evaluated = try? trainer.lossAndGradients(tokens: tokens, labels: labels),
                   !evaluated.loss.isFinite {
                    throw FineTuneRunError.nonFiniteLoss(step: index + 1, loss: evaluated.loss, lastCheckpoint: lastCheckpoint)
                }
                throw error
            }
            let now = DispatchTime.now().uptimeNanoseconds
            let seconds = max(1e-9, Double(now - t0) / 1e9)
            var evalLoss: Double?
            if !validation.isEmpty, result.step == totalSteps || config.evalSteps.map({ result.step % $0 == 0 }) == true {
                evalLoss = try evaluationLoss()
            }
            let progress = FineTuneProgress(
                step: result.step, totalSteps: totalSteps, epoch: Double(result.step) / Double(stepsPerEpoch), loss: result.loss,
                learningRate: result.learningRate, gradientNorm: result.gradientNorm, tokens: result.tokens,
                tokensPerSecond: Double(result.tokens) / seconds, elapsed: Double(now - started) / 1e9, evalLoss: evalLoss,
                lossScale: result.lossScale, skipped: result.skipped)
            done.append(progress)
            onStep?(progress)
            if let saveSteps = options.saveSteps, let directory = options.checkpointDirectory, result.step % saveSteps == 0 {
                let path = (directory as NSString).appendingPathComponent("checkpoint-\(result.step)")
                try saveCheckpoint(to: path)
                onCheckpoint?(path)
                if let limit = options.saveTotalLimit { try Self.pruneCheckpoints(in: directory, keeping: limit) }
            }
        }
        return done
    }

    /// The mean loss over the validation sequences' trained tokens (nil without any).
    public func evaluationLoss() throws -> Double? {
        guard !validation.isEmpty else { return nil }
        let (tokens, labels) = Self.tensors(validation)
        // Gradients are computed and discarded: the next step zeroes them.
        return try trainer.lossAndGradients(tokens: tokens, labels: labels, training: false).loss
    }

    /// Writes the adapter as a PEFT directory (`adapter_config.json`,
    /// `adapter_model.safetensors`) and as `adapter.gguf`, a llama.cpp GGUF LoRA, in `directory`.
    /// With trained norms (``FineTuneConfig/trainNorms``) only the PEFT directory is written:
    /// llama.cpp's GGUF LoRA has no place for whole norm weights.
    /// - Returns: the paths written.
    @discardableResult
    public func writeAdapter(to directory: String) throws -> [String] {
        try trainer.writePEFT(to: directory)
        var names = ["adapter_config.json", "adapter_model.safetensors"]
        if trainer.norms.isEmpty {
            try trainer.writeGGUF(to: (directory as NSString).appendingPathComponent("adapter.gguf"))
            names.append("adapter.gguf")
        }
        return names.map { (directory as NSString).appendingPathComponent($0) }
    }
}
