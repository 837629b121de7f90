/// One LoRA module's path in bf16/f16 (``PrecisionPolicy``), as PEFT's `Linear.forward`
/// (`result + lora_B(lora_A(x)) * scaling`) runs under `torch.autocast`: `lora_A` and
/// `lora_B` are autocast linears, so the f32 master weights are used rounded, each product's
/// output is rounded, the product by `scaling` is a 16-bit multiply (rounded), and in the
/// backward pass every matmul's output gradient is rounded; the weight gradients reach the f32
/// master `.grad` as rounded 16-bit products (the cast's backward).
///
/// Built on ``DenseOps`` and the factors' public buffers, so ``LoRAFactors`` itself (the f32
/// path) is untouched.
final class ReducedPrecisionLoRA {
    let factors: LoRAFactors<Float>
    let policy: PrecisionPolicy
    /// The master `A`, `B` rounded (autocast's cast of the weights), refreshed per pass.
    private let a: TrainingBuffer<Float>, b: TrainingBuffer<Float>
    /// One backward call's weight-gradient products before rounding.
    private let gradA: TrainingBuffer<Float>, gradB: TrainingBuffer<Float>

    init(_ factors: LoRAFactors<Float>, policy: PrecisionPolicy) {
        self.factors = factors
        self.policy = policy
        a = TrainingBuffer(zeros: factors.a.count)
        b = TrainingBuffer(zeros: factors.b.count)
        gradA = TrainingBuffer(zeros: factors.a.count)
        gradB = TrainingBuffer(zeros: factors.b.count)
        refresh()
    }

    /// Re-reads the master weights (after an optimiser step).
    func refresh() {
        for i in 0..<a.count { a[i] = policy.round(factors.a[i]) }
        for i in 0..<b.count { b[i] = policy.round(factors.b[i]) }
    }

    /// `out = round(round(round(x·Aᵀ)·Bᵀ)·s)`, `[tokens × outputs]` (overwritten); `x` is the
    /// (rounded) LoRA input, `u` scratch `[tokens × r]`.
    func forward(_ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>, scratch u: UnsafeMutablePointer<Float>) {
        let f = factors
        DenseOps.multiplyTransposed(x, a.pointer, tokens: tokens, inputs: f.inputs, outputs: f.rank, into: u)
        policy.round(u, count: tokens * f.rank)
        DenseOps.multiplyTransposed(UnsafePointer(u), b.pointer, tokens: tokens, inputs: f.rank, outputs: f.outputs, into: out)
        for i in 0..<tokens * f.outputs { out[i] = policy.round(policy.round(out[i]) * f.scale) }
    }

    /// Given `dy` (the rounded gradient of the module's output) and the same `x`: adds the
    /// rounded products `dᵀ·u` and `duᵀ·x` to the master gradients (with `d = round(s·dy)`,
    /// `du = round(d·B)`), and writes the LoRA path's input gradient `round(du·A)` to `dx`
    /// (overwritten, `[tokens × inputs]`). `d` is scratch `[tokens × outputs]`, `u`/`du`
    /// `[tokens × r]`.
    func backward(_ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, tokens: Int, into dx: UnsafeMutablePointer<Float>,
                  d: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, du: UnsafeMutablePointer<Float>) {
        let f = factors
        for i in 0..<tokens * f.outputs { d[i] = policy.round(dy[i] * f.scale) }
        DenseOps.multiplyTransposed(x, a.pointer, tokens: tokens, inputs: f.inputs, outputs: f.rank, into: u)
        policy.round(u, count: tokens * f.rank)
        gradB.zero()
        DenseOps.accumulateOuter(UnsafePointer(d), UnsafePointer(u), tokens: tokens, inputs: f.rank, outputs: f.outputs, into: gradB.pointer)
        for i in 0..<gradB.count { f.gradB[i] += policy.round(gradB[i]) }
        DenseOps.multiply(UnsafePointer(d), b.pointer, tokens: tokens, inputs: f.rank, outputs: f.outputs, into: du)
        policy.round(du, count: tokens * f.rank)
        gradA.zero()
        DenseOps.accumulateOuter(UnsafePointer(du), x, tokens: tokens, inputs: f.inputs, outputs: f.rank, into: gradA.pointer)
        for i in 0..<gradA.count { f.gradA[i] += policy.round(gradA[i]) }
        DenseOps.multiply(UnsafePointer(du), a.pointer, tokens: tokens, inputs: f.inputs, outputs: f.rank, into: dx)
        policy.round(dx, count: tokens * f.inputs)
    }
}
