/// Dynamic loss scaling for f16 training, with the semantics of `torch.amp.GradScaler`
/// (`torch/amp/grad_scaler.py` and ATen's `_amp_update_scale_`): the loss is multiplied by
/// ``scale`` before the backward pass so small f16 gradients do not flush to zero; before the
/// optimiser step the gradients are multiplied by the f32 reciprocal of the scale and checked
/// (`_amp_foreach_non_finite_check_and_unscale_`). A step whose gradients hold an inf or NaN is
/// skipped (no AdamW update, and it does not count as an optimiser step) and the scale is
/// multiplied by ``backoffFactor``; after ``growthInterval`` consecutive finite steps it is
/// multiplied by ``growthFactor``. bf16 has f32's exponent range and needs no scaling, as in
/// PyTorch.
public final class GradScaler: @unchecked Sendable {
    /// `init_scale` (PyTorch's default 2¹⁶).
    public let initialScale: Double
    /// `growth_factor`, `backoff_factor`, `growth_interval`.
    public let growthFactor: Double
    public let backoffFactor: Double
    public let growthInterval: Int
    /// The current scale.
    public internal(set) var scale: Double
    /// Consecutive finite steps since the last change of scale (`_growth_tracker`).
    public internal(set) var growthTracker = 0
    /// Steps skipped for non-finite gradients so far.
    public internal(set) var skippedSteps = 0

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a scale ≤ 0, growth ≤ 1, backoff
    ///   outside (0, 1) or an interval < 1 (PyTorch's own checks).
    public init(initialScale: Double = 65536, growthFactor: Double = 2, backoffFactor: Double = 0.5, growthInterval: Int = 2000) throws {
        guard initialScale.isFinite, initialScale > 0 else { throw TrainingError.invalidParameter("loss scale must be > 0, got \(initialScale)") }
        guard growthFactor.isFinite, growthFactor > 1 else { throw TrainingError.invalidParameter("growth factor must be > 1, got \(growthFactor)") }
        guard backoffFactor > 0, backoffFactor < 1 else { throw TrainingError.invalidParameter("backoff factor must be in (0, 1), got \(backoffFactor)") }
        guard growthInterval >= 1 else { throw TrainingError.invalidParameter("growth interval must be ≥ 1, got \(growthInterval)") }
        self.initialScale = initialScale
        self.growthFactor = growthFactor
        self.backoffFactor = backoffFactor
        self.growthInterval = growthInterval
        scale = initialScale
    }

    /// Divides the gradients by ``scale`` in place (times its f32 reciprocal, as PyTorch) and
    /// returns true when every value is finite.
    public func unscale(_ gradients: [TrainingBuffer<Float>]) -> Bool {
        let inverse = Float(1 / scale)
        var finite = true
        for g in gradients {
            for i in 0..<g.count {
                g[i] *= inverse
                if !g[i].isFinite { finite = false }
            }
        }
        return finite
    }

    /// `GradScaler.update()` after a step: backs off after an overflow (and counts the skipped
    /// step), grows after ``growthInterval`` finite steps in a row.
    public func update(foundInfinite: Bool) {
        if foundInfinite {
            scale *= backoffFactor
            growthTracker = 0
            skippedSteps += 1
        } else if growthTracker + 1 == growthInterval {
            let grown = scale * growthFactor
            if grown.isFinite { scale = grown }
            growthTracker = 0
        } else {
            growthTracker += 1
        }
    }
}
