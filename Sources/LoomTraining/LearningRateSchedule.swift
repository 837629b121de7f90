import Foundation

/// The learning rate at each optimiser step: a linear warm-up from 0 to the peak rate, then a
/// constant, linear or cosine decay to 0 over the remaining steps.
///
/// The formulas are transformers' (`optimization.py`: `get_constant_schedule_with_warmup`,
/// `get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup` with the default half
/// cosine wave), which PEFT and LLaMA-Factory train with, so a run here and one handed to
/// LLaMA-Factory see the same rates step for step (fixture: `scripts/gen_training_fixtures.py`).
///
/// ```swift
/// let schedule = try LearningRateSchedule(kind: .cosine, peak: 2e-4, warmupSteps: 10, totalSteps: 100)
/// schedule.rate(atStep: 0)    // 0 (the first step of warm-up)
/// schedule.rate(atStep: 10)   // 2e-4
/// ```
public struct LearningRateSchedule: Sendable, Equatable {
    /// The shape after warm-up.
    public enum Kind: String, Sendable, CaseIterable {
        case constant, linear, cosine
    }

    public let kind: Kind
    /// The rate at the end of warm-up.
    public let peak: Double
    public let warmupSteps: Int
    /// Optimiser steps in the whole run; decay reaches 0 here.
    public let totalSteps: Int

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a negative or non-finite rate, a
    ///   negative warm-up, or a total below 1 or below the warm-up.
    public init(kind: Kind, peak: Double, warmupSteps: Int, totalSteps: Int) throws {
        guard peak.isFinite, peak >= 0 else {
            throw TrainingError.invalidParameter("learning rate must be a finite number ≥ 0, got \(peak)")
        }
        guard warmupSteps >= 0 else {
            throw TrainingError.invalidParameter("warm-up steps must be ≥ 0, got \(warmupSteps)")
        }
        guard totalSteps >= 1, totalSteps >= warmupSteps else {
            throw TrainingError.invalidParameter(
                "total steps (\(totalSteps)) must be ≥ 1 and ≥ the warm-up steps (\(warmupSteps))")
        }
        self.kind = kind
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate for optimiser step `step` (0-based, the step about to be taken), as the
    /// transformers scheduler returns it after `step` calls of `scheduler.step()`.
    public func rate(atStep step: Int) -> Double {
        peak * multiplier(atStep: max(0, step))
    }

    private func multiplier(atStep step: Int) -> Double {
        if step < warmupSteps {
            return Double(step) / Double(max(1, warmupSteps))
        }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return max(0, 0.5 * (1 + cos(Double.pi * 2 * 0.5 * progress)))
        }
    }
}
