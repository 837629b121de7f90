/// RMSNorm and its gradient, as HF's `LlamaRMSNorm` (transformers
/// `models/llama/modeling_llama.py`): `y = w ⊙ x · rsqrt(mean(x²) + ε)`, per row.
public enum RMSNormOp {
    /// `y[r] = w ⊙ x[r] · ρ[r]` with `ρ[r] = 1/√(mean(x[r]²) + ε)`, which is saved in
    /// `inverseRMS` (`[rows]`) for the backward pass.
    public static func forward<T: TrainingScalar>(
        _ x: UnsafePointer<T>, weight: UnsafePointer<T>, rows: Int, dim: Int, eps: T,
        into y: UnsafeMutablePointer<T>, inverseRMS: UnsafeMutablePointer<T>
    ) {
        for r in 0..<rows {
            let xr = x + r * dim, yr = y + r * dim
            var sum: T = 0
            for i in 0..<dim { sum += xr[i] * xr[i] }
            let rho = 1 / (sum / T(dim) + eps).squareRoot()
            inverseRMS[r] = rho
            for i in 0..<dim { yr[i] = weight[i] * (xr[i] * rho) }
        }
    }

    /// Adds the gradient with respect to `x` to `dx` (`dx += ∂L/∂x`) given `dy = ∂L/∂y`:
    /// with `g = dy ⊙ w`, `∂L/∂x = ρ·g − x·ρ³·mean(g ⊙ x)`. With `dWeight`, also adds
    /// `Σ_r dy[r] ⊙ x[r]·ρ[r]` to it (trainable norms).
    public static func backward<T: TrainingScalar>(
        _ dy: UnsafePointer<T>, x: UnsafePointer<T>, weight: UnsafePointer<T>, inverseRMS: UnsafePointer<T>,
        rows: Int, dim: Int, addingInto dx: UnsafeMutablePointer<T>, dWeight: UnsafeMutablePointer<T>? = nil
    ) {
        for r in 0..<rows {
            let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
            let rho = inverseRMS[r]
            var dot: T = 0
            for i in 0..<dim { dot += dyr[i] * weight[i] * xr[i] }
            let k = rho * rho * rho * dot / T(dim)
            for i in 0..<dim { dxr[i] += rho * dyr[i] * weight[i] - xr[i] * k }
            if let dWeight {
                for i in 0..<dim { dWeight[i] += dyr[i] * xr[i] * rho }
            }
        }
    }
}
