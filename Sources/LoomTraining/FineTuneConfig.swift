import Foundation

/// Every hyper-parameter of a LoRA fine-tuning run (`loom finetune`), with defaults, and the
/// arithmetic that turns them into a step count and a learning-rate schedule.
///
/// Names follow the CLI flags; the LLaMA-Factory export maps each one to its YAML key
/// (`lora_rank`, `learning_rate`, …). Defaults are LLaMA-Factory's / transformers' where they
/// have one (`cutoff_len` 2048, `max_grad_norm` 1.0, `seed` 42, AdamW betas 0.9/0.999 and
/// eps 1e-8, `lora_dropout` 0), and LLaMA-Factory's `examples/train_lora/llama3_lora_sft.yaml`
/// for the rest (rank 8, `lora_target: all`, lr 1e-4, 3 epochs, cosine, warm-up ratio 0.1,
/// batch 1, gradient accumulation 8). Precision defaults to f32 (a CPU run).
///
/// ```swift
/// var config = FineTuneConfig()
/// config.layers = try .init(parsing: "0-11")
/// try config.validate()
/// let schedule = try config.schedule(exampleCount: 1000)
/// ```
public struct FineTuneConfig: Sendable, Equatable {
    /// Precision of activations and gradients (LoRA master weights stay f32).
    public enum Precision: String, Sendable, CaseIterable {
        case bf16, f16, f32
    }

    /// Warm-up as a step count (`warmup_steps`) or a fraction of the run (`warmup_ratio`).
    public enum Warmup: Sendable, Equatable {
        case steps(Int)
        case ratio(Double)
    }

    // LoRA
    /// LoRA rank r (`--lora-r`).
    public var loraRank = 8
    /// LoRA alpha (`--lora-alpha`); the update is scaled by alpha/r (alpha/√r with rsLoRA).
    public var loraAlpha: Double = 16
    /// Dropout on the LoRA input (`--lora-dropout`), in [0, 1).
    public var loraDropout: Double = 0
    /// Rank-stabilised LoRA scaling alpha/√r (`--use-rslora`, Kalajdzievski 2023).
    public var useRSLoRA = false
    /// Projections adapted (`--target`).
    public var targets: LoRATargets = .allLinear
    /// Layers adapted (`--layers`).
    public var layers: LayerSelection = .all
    /// Also train the RMSNorm weights of the adapted layers and the final norm
    /// (`--train-norms`; PEFT `modules_to_save`), without weight decay.
    public var trainNorms = false

    // AdamW and schedule
    /// Peak learning rate (`--lr`).
    public var learningRate = 1e-4
    /// Decoupled weight decay (`--weight-decay`).
    public var weightDecay: Double = 0
    /// AdamW β1, β2 (`--betas`).
    public var betas: (Double, Double) = (0.9, 0.999)
    /// AdamW ε (`--eps`).
    public var epsilon = 1e-8
    /// Decay after warm-up (`--lr-scheduler`).
    public var schedule: LearningRateSchedule.Kind = .cosine
    /// Linear warm-up from 0 (`--warmup N` steps or `--warmup 0.1` ratio).
    public var warmup: Warmup = .ratio(0.1)
    /// Global gradient-norm clip (`--max-grad-norm`); 0 turns clipping off.
    public var maxGradNorm: Double = 1

    // Run length and batching
    /// Passes over the data (`--epochs`); fractional values stop part-way, as in transformers.
    public var epochs: Double = 3
    /// Optimiser steps (`--max-steps`); when set it overrides `epochs`, as transformers' `max_steps > 0` does.
    public var maxSteps: Int?
    /// Sequences per micro-batch (`--batch-size`).
    public var batchSize = 1
    /// Micro-batches per optimiser step (`--grad-accum`).
    public var gradientAccumulation = 8
    /// Longest sequence in tokens (`--cutoff-len`); longer examples are truncated.
    public var cutoffLength = 2048
    /// Concatenate examples up to the cutoff (`--packing`), attention kept within each.
    public var packing = false
    /// How an over-long conversation is shortened (`--truncation per-turn|keep-start`);
    /// per-turn is LLaMA-Factory's rule.
    public var truncation: SequenceTruncation = .perTurn

    // Evaluation
    /// Examples held out of the training file for evaluation (`--val-split`); a separate
    /// validation file (`--val-file`) is loaded by the caller instead.
    public var validationSplit: DatasetSplit.Size?
    /// Evaluation loss every N optimiser steps (`--eval-steps`); nil = at the end only.
    public var evalSteps: Int?

    // Numerics and reproducibility
    /// `--precision`.
    public var precision: Precision = .f32
    /// Seed of LoRA init, dropout and shuffling (`--seed`).
    public var seed: UInt64 = 42
    /// Turn the first bad record or over-long example into an error (`--strict`).
    public var strict = false

    public init() {}

    public static func == (a: FineTuneConfig, b: FineTuneConfig) -> Bool {
        a.loraRank == b.loraRank && a.loraAlpha == b.loraAlpha && a.loraDropout == b.loraDropout
            && a.useRSLoRA == b.useRSLoRA && a.targets == b.targets && a.layers == b.layers && a.trainNorms == b.trainNorms
            && a.learningRate == b.learningRate && a.weightDecay == b.weightDecay
            && a.betas == b.betas && a.epsilon == b.epsilon && a.schedule == b.schedule
            && a.warmup == b.warmup && a.maxGradNorm == b.maxGradNorm && a.epochs == b.epochs
            && a.maxSteps == b.maxSteps && a.batchSize == b.batchSize
            && a.gradientAccumulation == b.gradientAccumulation && a.cutoffLength == b.cutoffLength
            && a.packing == b.packing && a.truncation == b.truncation && a.validationSplit == b.validationSplit && a.evalSteps == b.evalSteps
            && a.precision == b.precision && a.seed == b.seed && a.strict == b.strict
    }

    /// The LoRA update's scale: alpha/r, or alpha/√r with rsLoRA (PEFT `LoraLayer.update_layer`).
    public var loraScaling: Double {
        useRSLoRA ? loraAlpha / Double(loraRank).squareRoot() : loraAlpha / Double(loraRank)
    }

    /// Checks every value; the first bad one is named with its flag and value.
    /// - Throws: ``TrainingError/invalidParameter(_:)``.
    public func validate() throws {
        func fail(_ message: String) -> TrainingError { TrainingError.invalidParameter(message) }
        func finite(_ value: Double, _ flag: String) throws {
            guard value.isFinite else { throw fail("\(flag) must be a finite number, got \(value)") }
        }
        guard loraRank >= 1 else { throw fail("--lora-r must be ≥ 1, got \(loraRank)") }
        try finite(loraAlpha, "--lora-alpha")
        guard loraAlpha > 0 else { throw fail("--lora-alpha must be > 0, got \(loraAlpha)") }
        try finite(loraDropout, "--lora-dropout")
        guard loraDropout >= 0, loraDropout < 1 else { throw fail("--lora-dropout must be in [0, 1), got \(loraDropout)") }
        if case .modules(let names) = targets, names.isEmpty { throw fail("--target names no module") }
        try finite(learningRate, "--lr")
        guard learningRate > 0 else { throw fail("--lr must be > 0, got \(learningRate)") }
        try finite(weightDecay, "--weight-decay")
        guard weightDecay >= 0 else { throw fail("--weight-decay must be ≥ 0, got \(weightDecay)") }
        for (name, beta) in [("β1", betas.0), ("β2", betas.1)] {
            try finite(beta, "--betas \(name)")
            guard beta >= 0, beta < 1 else { throw fail("--betas: \(name) must be in [0, 1), got \(beta)") }
        }
        try finite(epsilon, "--eps")
        guard epsilon > 0 else { throw fail("--eps must be > 0, got \(epsilon)") }
        switch warmup {
        case .steps(let steps):
            guard steps >= 0 else { throw fail("--warmup steps must be ≥ 0, got \(steps)") }
        case .ratio(let ratio):
            try finite(ratio, "--warmup ratio")
            guard ratio >= 0, ratio < 1 else { throw fail("--warmup ratio must be in [0, 1), got \(ratio)") }
        }
        try finite(maxGradNorm, "--max-grad-norm")
        guard maxGradNorm >= 0 else { throw fail("--max-grad-norm must be ≥ 0 (0 = no clipping), got \(maxGradNorm)") }
        if let maxSteps {
            guard maxSteps >= 1 else { throw fail("--max-steps must be ≥ 1, got \(maxSteps)") }
        } else {
            try finite(epochs, "--epochs")
            guard epochs > 0 else { throw fail("--epochs must be > 0, got \(epochs)") }
        }
        guard batchSize >= 1 else { throw fail("--batch-size must be ≥ 1, got \(batchSize)") }
        guard gradientAccumulation >= 1 else { throw fail("--grad-accum must be ≥ 1, got \(gradientAccumulation)") }
        switch validationSplit {
        case .fraction(let fraction)?:
            guard fraction.isFinite, fraction > 0, fraction < 1 else { throw fail("--val-split fraction must be in (0, 1), got \(fraction)") }
        case .count(let count)?:
            guard count >= 1 else { throw fail("--val-split count must be ≥ 1, got \(count)") }
        case nil: break
        }
        if let evalSteps, evalSteps < 1 { throw fail("--eval-steps must be ≥ 1, got \(evalSteps)") }
        guard cutoffLength >= 2 else { throw fail("--cutoff-len must be ≥ 2 (one input and one target token), got \(cutoffLength)") }
    }

    /// Optimiser steps for a dataset of `exampleCount` sequences (after packing), the way
    /// transformers' `Trainer` counts them (5.x `_inner_training_loop`, where a last partial
    /// accumulation group is a step too): micro-batches per epoch ⌈n/batch⌉, updates per epoch
    /// max(1, ⌈micro-batches/accum⌉), then `max_steps` if set, else ⌈epochs × updates per epoch⌉.
    /// - Throws: ``TrainingError/invalidParameter(_:)`` for an empty dataset or a bad config.
    public func optimizerSteps(exampleCount: Int) throws -> Int {
        try validate()
        guard exampleCount >= 1 else { throw TrainingError.invalidParameter("the dataset has no examples to count steps over") }
        if let maxSteps { return maxSteps }
        let microBatches = (exampleCount + batchSize - 1) / batchSize
        let perEpoch = max(1, (microBatches + gradientAccumulation - 1) / gradientAccumulation)
        return max(1, Int((epochs * Double(perEpoch)).rounded(.up)))
    }

    /// Warm-up steps for a run of `totalSteps`: a count as given, a ratio as
    /// ⌈ratio × total⌉ (transformers `TrainingArguments.get_warmup_steps`).
    public func warmupSteps(totalSteps: Int) -> Int {
        switch warmup {
        case .steps(let steps): return min(steps, totalSteps)
        case .ratio(let ratio): return min(totalSteps, Int((ratio * Double(totalSteps)).rounded(.up)))
        }
    }

    /// The learning-rate schedule of a run over `exampleCount` sequences.
    public func schedule(exampleCount: Int) throws -> LearningRateSchedule {
        let total = try optimizerSteps(exampleCount: exampleCount)
        return try LearningRateSchedule(kind: schedule, peak: learningRate,
                                        warmupSteps: warmupSteps(totalSteps: total), totalSteps: total)
    }
}
