import LoomKernels
import LoomModels

/// One projection (q, k, v, o, gate, up or down of one layer) under quantisation-aware
/// training to ternary weights: a BitLinear in training mode (BitNet b1.58; the warm-up of
/// Hugging Face's "Fine-tuning LLMs to 1.58bit", see ``TernaryFakeQuant``).
///
/// It keeps an f32 *latent* weight `W` (``latent``, `[outputs × inputs]`, a copy of the
/// base's dequantised weight: the model's own mapping is never written) that AdamW updates,
/// its gradient (``gradient``), and for the step in progress `W_eff = W + λ·(Q(W) − W)`
/// (``refresh(lambda:)``). Forward: `y = X_eff·W_effᵀ + b` with
/// `X_eff = X + λ·(Qa(X) − X)`; backward with the straight-through estimator (Q and Qa pass
/// gradients unchanged): `∂L/∂X += dY·W_eff` and `∂L/∂W += dYᵀ·X_eff`. The bias, if any
/// (Qwen2's q/k/v), stays frozen — BitNet's recipe quantises only the matrices.
///
/// The three products run through ``TrainingGEMM`` on F32 views of `W_eff` and `X_eff`, so
/// the fake-quantised layer costs what a frozen one does, plus the weight-gradient GEMM.
public final class QATProjection: @unchecked Sendable {
    public let layer: Int
    public let module: LoRAModule
    public let inputs: Int
    public let outputs: Int
    /// The trained f32 latent weight `W`, row-major `[outputs × inputs]` in the base's row
    /// order (a GGUF llama base's Q/K rows are permuted; the fake quantisation is per tensor
    /// and element-wise, so the order does not change it).
    public let latent: TrainingBuffer<Float>
    /// `∂L/∂W` (accumulated; the trainer zeroes it).
    public let gradient: TrainingBuffer<Float>
    /// `W_eff` for the current λ.
    let effective: TrainingBuffer<Float>
    let bias: FloatVector?
    /// λ of the current `W_eff` (and of the activations' fake quantisation).
    public private(set) var lambda: Float = 0
    /// The per-tensor scale `1/mean|W|` of the last refresh (the ternary values are ±1/scale).
    public private(set) var scale: Float = 1

    /// A latent copy of `projection`'s base weight (dequantised from its stored format).
    public init(layer: Int, module: LoRAModule, projection: Projection) {
        let w = projection.weight
        self.layer = layer
        self.module = module
        inputs = w.columns
        outputs = w.rows
        latent = TrainingBuffer(zeros: w.rows * w.columns)
        for r in 0..<w.rows { w.dequantizeRow(r, into: latent.pointer + r * w.columns) }
        gradient = TrainingBuffer(zeros: latent.count)
        effective = TrainingBuffer(zeros: latent.count)
        bias = projection.bias
        refresh(lambda: 0)
    }

    /// Recomputes `W_eff` from the latent weight for `lambda` (after every optimiser update,
    /// before the next forward pass).
    public func refresh(lambda: Float) {
        self.lambda = lambda
        scale = TernaryFakeQuant.weights(latent.pointer, count: latent.count, lambda: lambda, into: effective.pointer)
    }

    /// `W_eff` as a matrix ``TrainingGEMM`` multiplies.
    private var effectiveMatrix: WeightMatrix {
        WeightMatrix(type: .f32, rows: outputs, columns: inputs, base: UnsafeRawPointer(effective.pointer))
    }

    /// `y = X_eff·W_effᵀ + b` for `tokens` rows of `x`; `xEff` is scratch `[tokens × inputs]`.
    func forward(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>, xEff: UnsafeMutablePointer<Float>,
                 pool: ThreadPool) {
        TernaryFakeQuant.activations(x, rows: tokens, columns: inputs, lambda: lambda, into: xEff)
        TrainingGEMM.multiply(xEff, rows: tokens, lda: inputs, effectiveMatrix, form: .transposed, into: y, ldc: outputs,
                              accumulate: false, bias: bias.map { UnsafePointer($0.pointer) }, pool: pool)
    }

    /// `dx += dy·W_eff` and `gradient += dyᵀ·X_eff` (X_eff recomputed from the kept input `x`
    /// rather than kept itself). `xEff` is scratch `[tokens × inputs]`, `dyT` `[outputs × tokens]`.
    func backward(_ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, tokens: Int, addingInto dx: UnsafeMutablePointer<Float>,
                  xEff: UnsafeMutablePointer<Float>, dyT: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        TrainingGEMM.multiply(dy, rows: tokens, lda: outputs, effectiveMatrix, form: .plain, into: dx, ldc: inputs,
                              accumulate: true, pool: pool)
        TernaryFakeQuant.activations(x, rows: tokens, columns: inputs, lambda: lambda, into: xEff)
        for t in 0..<tokens {
            for o in 0..<outputs { dyT[o * tokens + t] = dy[t * outputs + o] }
        }
        // gradient[outputs × inputs] += dyᵀ[outputs × tokens] · X_eff[tokens × inputs]: the
        // `.plain` form with X_eff as the (F32) "weight" of `tokens` rows.
        let activations = WeightMatrix(type: .f32, rows: tokens, columns: inputs, base: UnsafeRawPointer(xEff))
        TrainingGEMM.multiply(dyT, rows: outputs, lda: tokens, activations, form: .plain, into: gradient.pointer, ldc: inputs,
                              accumulate: true, pool: pool)
    }
}
