/// The SwiGLU activation of LLaMA's MLP (transformers `LlamaMLP`: `down(silu(gate(x)) * up(x))`)
/// and its gradient.
public enum SwiGLUOp {
    @inlinable static func sigmoid<T: TrainingScalar>(_ x: T) -> T { 1 / (1 + T.exponential(-x)) }

    /// `out = silu(gate) ⊙ up` with `silu(g) = g·σ(g)`.
    public static func forward<T: TrainingScalar>(gate: UnsafePointer<T>, up: UnsafePointer<T>, count: Int,
                                                  into out: UnsafeMutablePointer<T>) {
        for i in 0..<count { out[i] = gate[i] * sigmoid(gate[i]) * up[i] }
    }

    /// Writes `∂L/∂gate = dOut ⊙ up ⊙ σ(g)(1 + g(1 − σ(g)))` and `∂L/∂up = dOut ⊙ silu(g)`.
    public static func backward<T: TrainingScalar>(
        _ dOut: UnsafePointer<T>, gate: UnsafePointer<T>, up: UnsafePointer<T>, count: Int,
        dGate: UnsafeMutablePointer<T>, dUp: UnsafeMutablePointer<T>
    ) {
        for i in 0..<count {
            let g = gate[i], s = sigmoid(g)
            dGate[i] = dOut[i] * up[i] * s * (1 + g * (1 - s))
            dUp[i] = dOut[i] * g * s
        }
    }
}
