import Foundation

/// Settings of ``AdamW``: PyTorch's `torch.optim.AdamW` arguments (its defaults, except the
/// learning rate, which comes from a ``LearningRateSchedule`` per step).
public struct AdamWSettings: Sendable, Equatable {
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }

    func validate() throws {
        guard (0..<1).contains(beta1), (0..<1).contains(beta2) else {
            throw TrainingError.invalidParameter("AdamW betas must be in [0, 1), got (\(beta1), \(beta2))")
        }
        guard eps.isFinite, eps > 0 else { throw TrainingError.invalidParameter("AdamW eps must be a positive number, got \(eps)") }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw TrainingError.invalidParameter("weight decay must be a finite number ≥ 0, got \(weightDecay)")
        }
    }
}

/// AdamW (Loshchilov & Hutter, arXiv:1711.05101) exactly as `torch.optim.AdamW`'s
/// single-tensor path (`torch/optim/adamw.py` `_single_tensor_adamw`, the CPU default):
///
///     θ ← θ·(1 − lr·λ)                         decoupled weight decay
///     m ← m + (1 − β1)(g − m)                  (`exp_avg.lerp_`)
///     v ← β2·v + (1 − β2)·g²
///     θ ← θ − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε)   ε outside the square root
///
/// State is f32, as torch's for f32 parameters.
public final class AdamW: @unchecked Sendable {
    public let settings: AdamWSettings
    /// Steps taken (t of the bias corrections).
    public internal(set) var step = 0
    var moments: [ObjectIdentifier: (m: TrainingBuffer<Float>, v: TrainingBuffer<Float>)] = [:]

    public init(settings: AdamWSettings) throws {
        try settings.validate()
        self.settings = settings
    }

    /// One update of every `(parameter, gradient)` pair with learning rate `lr`: those of
    /// `parameters` with ``AdamWSettings/weightDecay``, those of `undecayed` without it — the
    /// two parameter groups of transformers' `Trainer.create_optimizer`, which exempts norm
    /// weights and biases from decay (`get_decay_parameter_names`).
    public func update(_ parameters: [(TrainingBuffer<Float>, TrainingBuffer<Float>)], lr: Double,
                       undecayed: [(TrainingBuffer<Float>, TrainingBuffer<Float>)] = []) {
        step += 1
        let s = settings
        let bc1 = 1 - pow(s.beta1, Double(step)), bc2 = 1 - pow(s.beta2, Double(step))
        let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot())
        let b1 = Float(1 - s.beta1), b2 = Float(s.beta2), oneMinusB2 = Float(1 - s.beta2), eps = Float(s.eps)
        let groups = [(parameters, Float(1 - lr * s.weightDecay)), (undecayed, Float(1))]
        for (group, decay) in groups {
            for (p, g) in group {
                let key = ObjectIdentifier(p)
                let state = moments[key] ?? (TrainingBuffer(zeros: p.count), TrainingBuffer(zeros: p.count))
                moments[key] = state
                let m = state.m.pointer, v = state.v.pointer
                for i in 0..<p.count {
                    let gi = g[i]
                    p[i] *= decay
                    m[i] += b1 * (gi - m[i])
                    v[i] = v[i] * b2 + oneMinusB2 * gi * gi
                    let denom = v[i].squareRoot() / bc2Sqrt + eps
                    p[i] -= stepSize * (m[i] / denom)
                }
            }
        }
    }
}

/// `torch.nn.utils.clip_grad_norm_`: the total L2 norm over all gradients (the norm of the
/// per-tensor norms); when `maxNorm` is given every gradient is multiplied by
/// `min(1, maxNorm / (norm + 1e-6))`. Returns the norm before clipping.
public enum GradientClipping {
    @discardableResult
    public static func clip(_ gradients: [TrainingBuffer<Float>], maxNorm: Double?) -> Double {
        var total = 0.0
        for g in gradients {
            for i in 0..<g.count { total += Double(g[i]) * Double(g[i]) }
        }
        let norm = total.squareRoot()
        if let maxNorm {
            let coefficient = Float(min(1, maxNorm / (norm + 1e-6)))
            for g in gradients {
                for i in 0..<g.count { g[i] *= coefficient }
            }
        }
        return norm
    }
}
