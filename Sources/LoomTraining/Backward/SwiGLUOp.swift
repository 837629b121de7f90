import LoomKernels

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

    typealias V = SIMD16<Float>

    /// The `Float` ``forward(gate:up:count:into:)``, 16 lanes at a time with Loom's vector
    /// exponential (``VectorOps/exponential(_:)``, within 2 ulp of `expf`): the scalar `expf`
    /// per element was most of the op's time. The same operations in the same order per
    /// element; the tail goes through zero-padded vectors, so every element gets the same
    /// arithmetic.
    public static func forward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                               into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i < count {
            let lanes = min(16, count - i)
            let g = load(gate + i, lanes), s = 1 / (1 + VectorOps.exponential(-g))
            store(g * s * load(up + i, lanes), out + i, lanes)
            i += 16
        }
    }

    /// The `Float` ``backward(_:gate:up:count:dGate:dUp:)``, vectorised as ``forward(gate:up:count:into:)``.
    public static func backward(_ dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                                dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>) {
        var i = 0
        while i < count {
            let lanes = min(16, count - i)
            let g = load(gate + i, lanes), s = 1 / (1 + VectorOps.exponential(-g)), d = load(dOut + i, lanes)
            store(d * load(up + i, lanes) * s * (1 + g * (1 - s)), dGate + i, lanes)
            store(d * g * s, dUp + i, lanes)
            i += 16
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ lanes: Int) -> V {
        if lanes == 16 { return UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var v = V()
        for l in 0..<lanes { v[l] = p[l] }
        return v
    }

    @inline(__always)
    private static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
        if lanes == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self); return }
        for l in 0..<lanes { p[l] = v[l] }
    }
}
