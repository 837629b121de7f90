import ArgumentParser
import Foundation
import LoomTraining

/// The hyper-parameter flags of `loom finetune`, one per ``FineTuneConfig`` field, with
/// FineTuneConfig's defaults (LLaMA-Factory's / transformers').
struct FinetuneOptions: ParsableArguments {
    @Option(name: .customLong("lora-r"), help: "LoRA rank r (default: 8).") var loraRank: Int?
    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha; the update is scaled by alpha/r (default: 16).") var loraAlpha: Double?
    @Option(name: .customLong("lora-dropout"), help: "LoRA dropout p on each adapted module's input in training, PEFT's lora_dropout (default: 0).") var loraDropout: Double?
    @Flag(name: .customLong("use-rslora"), help: "Rank-stabilised scaling alpha/√r.") var useRSLoRA = false
    @Option(name: .customLong("target"), help: "Adapted projections: all-linear or a list like q_proj,v_proj (default: all-linear).")
    var target: String?
    @Option(name: .customLong("layers"), help: "Adapted layers: all, even, odd, N, A-B or a comma list (default: all).") var layers: String?
    @Flag(name: .customLong("train-norms"), help: "Also train the RMSNorm weights of the adapted layers and the final norm (PEFT modules_to_save; no weight decay). The adapter is then written as a PEFT directory only: llama.cpp's GGUF LoRA cannot hold norms.")
    var trainNorms = false

    @Option(name: .customLong("lr"), help: "Peak learning rate (default: 1e-4).") var learningRate: Double?
    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay (default: 0).") var weightDecay: Double?
    @Option(name: .customLong("betas"), help: ArgumentHelp("AdamW β1,β2 (default: 0.9,0.999).", valueName: "b1,b2")) var betas: String?
    @Option(name: .customLong("eps"), help: "AdamW ε (default: 1e-8).") var epsilon: Double?
    @Option(name: [.customLong("schedule"), .customLong("lr-scheduler")], help: "constant, linear or cosine (default: cosine).")
    var schedule: String?
    @Option(name: .customLong("warmup"), help: "Warm-up: whole steps (10) or a fraction of the run (0.1, the default).") var warmup: String?
    @Option(name: .customLong("max-grad-norm"), help: "Gradient-norm clip, 0 for none (default: 1).") var maxGradNorm: Double?

    @Option(name: .customLong("epochs"), help: "Passes over the data; fractions stop part-way (default: 3).") var epochs: Double?
    @Option(name: .customLong("max-steps"), help: "Optimiser steps; overrides --epochs.") var maxSteps: Int?
    @Option(name: .customLong("batch-size"), help: "Sequences per micro-batch (default: 1).") var batchSize: Int?
    @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimiser step (default: 8).") var gradientAccumulation: Int?
    @Option(name: .customLong("cutoff-len"), help: "Longest sequence in tokens (default: 2048).") var cutoffLength: Int?
    @Flag(name: .customLong("packing"), help: "Pack examples up to the cutoff; attention stays within each example.") var packing = false
    @Option(name: .customLong("truncation"), help: "per-turn (LLaMA-Factory's, the default) or keep-start.") var truncation: String?
    @Option(name: .customLong("val-split"), help: "Hold out a fraction (0.1) or a count (50) of the examples for eval loss.")
    var validationSplit: String?
    @Option(name: .customLong("eval-steps"), help: "Eval loss every N steps (default: at the end).") var evalSteps: Int?
    @Option(name: .customLong("precision"), help: "f32, or bf16/f16 activations and gradients as torch.autocast (f32 master weights; f16 adds dynamic loss scaling) (default: f32).") var precision: String?
    @Option(name: .customLong("seed"), help: "Seed of the LoRA init and the data order (default: 42).") var seed: UInt64?
    @Flag(name: .customLong("strict"), help: "Fail on the first bad record or over-long conversation instead of skipping/truncating.")
    var strict = false

    /// The config these flags give (checked).
    func config() throws -> FineTuneConfig {
        var c = FineTuneConfig()
        if let loraRank { c.loraRank = loraRank }
        if let loraAlpha { c.loraAlpha = loraAlpha }
        if let loraDropout { c.loraDropout = loraDropout }
        c.useRSLoRA = useRSLoRA
        if let target { c.targets = try .init(parsing: target) }
        if let layers { c.layers = try .init(parsing: layers) }
        c.trainNorms = trainNorms
        if let learningRate { c.learningRate = learningRate }
        if let weightDecay { c.weightDecay = weightDecay }
        if let betas {
            let parts = betas.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let b1 = parts[0], let b2 = parts[1] else {
                throw ValidationError("--betas must be two numbers like 0.9,0.999, got '\(betas)'")
            }
            c.betas = (b1, b2)
        }
        if let epsilon { c.epsilon = epsilon }
        if let schedule {
            guard let kind = LearningRateSchedule.Kind(rawValue: schedule) else {
                throw ValidationError("--schedule must be constant, linear or cosine, got '\(schedule)'")
            }
            c.schedule = kind
        }
        if let warmup {
            if let steps = Int(warmup) {
                c.warmup = .steps(steps)
            } else if let ratio = Double(warmup) {
                c.warmup = .ratio(ratio)
            } else {
                throw ValidationError("--warmup must be a whole number of steps or a fraction like 0.1, got '\(warmup)'")
            }
        }
        if let maxGradNorm { c.maxGradNorm = maxGradNorm }
        if let epochs { c.epochs = epochs }
        c.maxSteps = maxSteps
        if let batchSize { c.batchSize = batchSize }
        if let gradientAccumulation { c.gradientAccumulation = gradientAccumulation }
        if let cutoffLength { c.cutoffLength = cutoffLength }
        c.packing = packing
        if let truncation {
            switch truncation {
            case "per-turn": c.truncation = .perTurn
            case "keep-start": c.truncation = .keepStart
            default: throw ValidationError("--truncation must be per-turn or keep-start, got '\(truncation)'")
            }
        }
        if let validationSplit { c.validationSplit = try DatasetSplit.Size(parsing: validationSplit) }
        c.evalSteps = evalSteps
        if let precision {
            guard let p = FineTuneConfig.Precision(rawValue: precision) else {
                throw ValidationError("--precision must be bf16, f16 or f32, got '\(precision)'")
            }
            c.precision = p
        }
        if let seed { c.seed = seed }
        c.strict = strict
        try c.validate()
        return c
    }
}
