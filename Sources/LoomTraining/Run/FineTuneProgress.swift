/// One optimiser step of a ``FineTuneRun``, as its step callback and the training log see it.
public struct FineTuneProgress: Sendable, Equatable {
    /// 1-based optimiser step.
    public let step: Int
    /// Optimiser steps in the whole run.
    public let totalSteps: Int
    /// Epochs completed after this step (fractional, as transformers logs `epoch`).
    public let epoch: Double
    /// Mean cross-entropy over the step's trained tokens, before the update.
    public let loss: Double
    /// The learning rate the update used.
    public let learningRate: Double
    /// Norm of the LoRA gradients before clipping.
    public let gradientNorm: Double
    /// Tokens run forward and backward in this step.
    public let tokens: Int
    /// `tokens` over the step's wall time.
    public let tokensPerSecond: Double
    /// Seconds since ``FineTuneRun/run(untilStep:)`` started (this process only).
    public let elapsed: Double
    /// Loss on the validation sequences, on evaluation steps.
    public let evalLoss: Double?
    /// f16: the loss scale of the step (``GradScaler``).
    public var lossScale: Double? = nil
    /// f16: the gradients overflowed and the update was skipped.
    public var skipped = false

    /// The line of the JSONL training log for this step.
    public var logEntry: TrainingLogEntry {
        TrainingLogEntry(step: step, loss: loss, learningRate: learningRate, gradNorm: gradientNorm,
                         tokensPerSecond: tokensPerSecond, epoch: epoch, evalLoss: evalLoss, lossScale: lossScale, skipped: skipped)
    }
}
