import Foundation

/// YaRN RoPE scaling (Peng et al., 2023) computed exactly as `transformers`'
/// `_compute_yarn_parameters` does, so an HF directory and the GGUF `loom convert` makes of it
/// rotate identically.
///
/// Each pair's frequency blends the original ("extrapolated") and the `factor`-interpolated
/// one by a linear ramp over the pairs between the correction dimensions of `betaFast` and
/// `betaSlow` rotations at the original context; cos and sin are then multiplied by the
/// attention factor (0.1·ln(factor) + 1 unless given).
public struct YarnScaling: Sendable, Equatable {
    public var factor: Double
    /// Context length the model was pre-trained with.
    public var originalContext: Int
    /// Multiplier of cos/sin; `nil` derives it from `factor` (and `mscale`/`mscaleAllDim`).
    public var attentionFactor: Double?
    public var betaFast: Double
    public var betaSlow: Double
    public var mscale: Double?
    public var mscaleAllDim: Double?
    /// How much of the ramp's extrapolated share is kept (llama.cpp's `yarn_ext_factor`):
    /// 1 is YaRN as published and as transformers computes it, 0 pure interpolation.
    public var extrapolationFactor: Double

    public init(factor: Double, originalContext: Int, attentionFactor: Double? = nil, betaFast: Double? = nil,
                betaSlow: Double? = nil, mscale: Double? = nil, mscaleAllDim: Double? = nil, extrapolationFactor: Double = 1) {
        self.extrapolationFactor = extrapolationFactor
        self.factor = factor
        self.originalContext = originalContext
        self.attentionFactor = attentionFactor
        // transformers: `get("beta_fast") or 32`, so 0 also means the default.
        self.betaFast = betaFast.flatMap { $0 == 0 ? nil : $0 } ?? 32
        self.betaSlow = betaSlow.flatMap { $0 == 0 ? nil : $0 } ?? 1
        self.mscale = mscale
        self.mscaleAllDim = mscaleAllDim
    }

    /// The factor cos and sin are multiplied by.
    public var magnitude: Double {
        if let attentionFactor { return attentionFactor }
        func scale(_ m: Double) -> Double { factor <= 1 ? 1 : 0.1 * m * log(factor) + 1 }
        if let mscale, let mscaleAllDim, mscale != 0, mscaleAllDim != 0 { return scale(mscale) / scale(mscaleAllDim) }
        return scale(1)
    }

    /// Per-pair divisors of the unscaled inverse frequencies `base^(-2i/dims)` (the form
    /// ``RotaryEmbedding`` takes as `frequencyFactors`).
    public func frequencyDivisors(base: Double, dimensions dims: Int) -> [Float] {
        func correctionDimension(_ rotations: Double) -> Double {
            Double(dims) * log(Double(originalContext) / (rotations * 2 * Double.pi)) / (2 * log(base))
        }
        let low = max(floor(correctionDimension(betaFast)), 0)
        var high = min(ceil(correctionDimension(betaSlow)), Double(dims - 1))
        if low == high { high += 0.001 }
        return (0..<dims / 2).map { i in
            let extrapolated = pow(base, -2 * Double(i) / Double(dims))
            let interpolated = extrapolated / factor
            let ramp = min(max((Double(i) - low) / (high - low), 0), 1)
            let keep = (1 - ramp) * extrapolationFactor
            let frequency = interpolated * (1 - keep) + extrapolated * keep
            return Float(extrapolated / frequency)
        }
    }
}
