/// One LoRA module's trainable factors and their gradients: `A [r × in]`, `B [out × r]`
/// (PEFT `lora_A.weight` / `lora_B.weight`) and the scale `s` (`lora_alpha/r`, or
/// `lora_alpha/√r` for rsLoRA), so the adapted projection is `y = W·x + s·B·(A·x)` (PEFT
/// `peft/tuners/lora/layer.py` `Linear.forward`, dropout 0).
///
/// The base weight is frozen: only `A` and `B` get gradients; the input gradient goes
/// through both the base (by the caller) and the LoRA path (here).
public final class LoRAFactors<T: TrainingScalar>: @unchecked Sendable {
    public let rank: Int
    public let inputs: Int
    public let outputs: Int
    public let scale: T
    public let a: TrainingBuffer<T>
    public let b: TrainingBuffer<T>
    public let gradA: TrainingBuffer<T>
    public let gradB: TrainingBuffer<T>

    public init(rank: Int, inputs: Int, outputs: Int, scale: T, a: [T], b: [T]) {
        precondition(a.count == rank * inputs && b.count == outputs * rank, "LoRA factor sizes")
        self.rank = rank
        self.inputs = inputs
        self.outputs = outputs
        self.scale = scale
        self.a = TrainingBuffer(a)
        self.b = TrainingBuffer(b)
        gradA = TrainingBuffer(zeros: a.count)
        gradB = TrainingBuffer(zeros: b.count)
    }

    /// `y += s·(x·Aᵀ)·Bᵀ` for `tokens` rows; `u` (`[tokens × r]`) receives `x·Aᵀ`.
    public func forward(_ x: UnsafePointer<T>, tokens: Int, addingInto y: UnsafeMutablePointer<T>,
                        scratch u: UnsafeMutablePointer<T>) {
        DenseOps.multiplyTransposed(x, a.pointer, tokens: tokens, inputs: inputs, outputs: rank, into: u)
        DenseOps.multiplyTransposed(UnsafePointer(u), b.pointer, tokens: tokens, inputs: rank, outputs: outputs,
                                    into: y, accumulate: true, scale: scale)
    }

    /// Accumulates `∂L/∂B += s·dyᵀ·u` and `∂L/∂A += (s·dy·B)ᵀ·x`, and adds the LoRA path's
    /// input gradient `(s·dy·B)·A` to `dx`. `u` is scratch `[tokens × r]` (recomputed here,
    /// `x·Aᵀ`, rather than saved); `du` scratch of the same size.
    public func backward(_ dy: UnsafePointer<T>, x: UnsafePointer<T>, tokens: Int, addingInto dx: UnsafeMutablePointer<T>,
                         scratch u: UnsafeMutablePointer<T>, _ du: UnsafeMutablePointer<T>) {
        DenseOps.multiplyTransposed(x, a.pointer, tokens: tokens, inputs: inputs, outputs: rank, into: u)
        DenseOps.accumulateOuter(dy, UnsafePointer(u), tokens: tokens, inputs: rank, outputs: outputs, into: gradB.pointer, scale: scale)
        DenseOps.multiply(dy, b.pointer, tokens: tokens, inputs: rank, outputs: outputs, into: du, scale: scale)
        DenseOps.accumulateOuter(UnsafePointer(du), x, tokens: tokens, inputs: inputs, outputs: rank, into: gradA.pointer)
        DenseOps.multiply(UnsafePointer(du), a.pointer, tokens: tokens, inputs: inputs, outputs: rank, into: dx, accumulate: true)
    }

    /// Sets both gradients to 0.
    public func zeroGradients() {
        gradA.zero()
        gradB.zero()
    }
}
