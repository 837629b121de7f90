/// The buffers of one sequence length's forward and backward pass, kept by
/// ``DecoderBackward`` from one call to the next.
///
/// Allocating them per call cost ≈ 6 % of a 512-token SmolLM2 step, all of it on the training
/// thread while the other workers waited: every fresh buffer of a megabyte or more is a new
/// mapping, so each page is faulted in and cleared by the kernel, then filled with zeros
/// again, and unmapped at the end of the step. Kept, the pages stay resident and nothing is
/// cleared that the pass overwrites anyway.
///
/// What must start at zero is zeroed by the pass itself (``BackwardScratch/zeroAccumulators()``):
/// the buffers that products accumulate into. Everything else is written whole before it is
/// read, so stale values from the previous call are never seen; the bit-identical resume
/// tests (a resumed run starts with fresh buffers) would tell otherwise.
final class StepBuffers {
    /// Tokens per sequence these buffers are for.
    let tokens: Int
    /// The layers' saved activations: one per layer when all are kept in f32, else one
    /// working layer (checkpointing, or 16-bit packed copies).
    let activations: [LayerActivations]
    /// The residual stream between layers: `[layers + 1][n × d]` when checkpointing (each
    /// layer's input is kept), else two used in turn.
    let hidden: [TrainingBuffer<Float>]
    /// A layer's output when it is recomputed during the backward pass (checkpointing).
    let recomputed: TrainingBuffer<Float>
    /// The final norm's output and 1/rms, and the gradient at its output.
    let normed: TrainingBuffer<Float>, rms: TrainingBuffer<Float>, dNormed: TrainingBuffer<Float>
    /// The gradient of the residual stream, two used in turn (a layer's output and input).
    let dHidden: (TrainingBuffer<Float>, TrainingBuffer<Float>)
    /// One layer's backward temporaries.
    let scratch: BackwardScratch
    /// LoRA rank-sized scratch `[n × r]`, two.
    let rankScratch: (TrainingBuffer<Float>, TrainingBuffer<Float>)

    init(tokens n: Int, layers: Int, keepsEveryLayer: Bool, checkpointing: Bool, rank: Int,
         make: () -> LayerActivations, d: Int, qDim: Int, kvDim: Int, ffn: Int) {
        tokens = n
        activations = (0..<(keepsEveryLayer ? layers : 1)).map { _ in make() }
        hidden = (0..<(checkpointing ? layers + 1 : 2)).map { _ in TrainingBuffer(zeros: n * d) }
        recomputed = TrainingBuffer(zeros: checkpointing ? n * d : 0)
        normed = TrainingBuffer(zeros: n * d)
        rms = TrainingBuffer(zeros: n)
        dNormed = TrainingBuffer(zeros: n * d)
        dHidden = (TrainingBuffer(zeros: n * d), TrainingBuffer(zeros: n * d))
        scratch = BackwardScratch(tokens: n, d: d, qDim: qDim, kvDim: kvDim, ffn: ffn)
        rankScratch = (TrainingBuffer(zeros: n * rank), TrainingBuffer(zeros: n * rank))
    }
}

/// One layer's backward temporaries for `n` tokens (shapes in the comments).
final class BackwardScratch {
    let dAct: TrainingBuffer<Float>       // [n × f] ∂L/∂(silu(gate)·up), accumulated
    let dGate: TrainingBuffer<Float>      // [n × f] written whole
    let dUp: TrainingBuffer<Float>        // [n × f] written whole
    let dNormed: TrainingBuffer<Float>    // [n × d] ∂L/∂RMSNorm output, accumulated
    let dMid: TrainingBuffer<Float>       // [n × d] copied, then accumulated
    let dAttended: TrainingBuffer<Float>  // [n × q] accumulated
    let dq: TrainingBuffer<Float>         // [n × q]
    let dk: TrainingBuffer<Float>         // [n × kv]
    let dv: TrainingBuffer<Float>         // [n × kv]

    init(tokens n: Int, d: Int, qDim: Int, kvDim: Int, ffn: Int) {
        dAct = TrainingBuffer(zeros: n * ffn)
        dGate = TrainingBuffer(zeros: n * ffn)
        dUp = TrainingBuffer(zeros: n * ffn)
        dNormed = TrainingBuffer(zeros: n * d)
        dMid = TrainingBuffer(zeros: n * d)
        dAttended = TrainingBuffer(zeros: n * qDim)
        dq = TrainingBuffer(zeros: n * qDim)
        dk = TrainingBuffer(zeros: n * kvDim)
        dv = TrainingBuffer(zeros: n * kvDim)
    }

    /// Zeroes the buffers the layer's products add into (and the attention gradients, which
    /// the scalar attention path accumulates).
    func zeroAccumulators() {
        for b in [dAct, dNormed, dAttended, dq, dk, dv] { b.zero() }
    }
}
