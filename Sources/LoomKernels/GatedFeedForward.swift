import Foundation

/// The first half of a SwiGLU feed-forward block for one token, fused into a single
/// dispatch: `out[r] = silu(gate_r · x) · (up_r · x)`.
///
/// Unfused this is a gate/up matrix product, a barrier, and a serial pass of `exp` over
/// every hidden unit on the calling thread (≈ 5 % of a SmolLM2 decode step). Here the
/// participant that computes row r of both matrices applies the activation right away, so
/// the `exp` calls are spread over the pool and no extra barrier is needed. Each output is
/// computed with the same row kernels and the same scalar expression as
/// `MatMul.multiply` followed by ``VectorOps/swiglu(_:up:count:)``, so the results are
/// bit-identical to that sequence.
///
/// Each participant's chunk of rows is visited in ``MatMul/decodeStreams`` interleaved runs
/// (``MatMul/interleaved(_:_:)``; one by default, i.e. plain order). Reading a chunk's gate
/// rows and then its up rows (one matrix at a time) instead of alternating measured 3–7 %
/// more CPU time for Qwen2.5-Coder-0.5B and SmolLM2 F16 decode.
public enum GatedFeedForward {
    /// `out[r] = silu(gate_r · x) · (up_r · x)` for every row r; `gate` and `up` must have
    /// the same shape. `out` needs `gate.rows` floats.
    public static func multiply(
        gate: WeightMatrix, up: WeightMatrix, _ x: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        precondition(gate.rows == up.rows && gate.columns == up.columns, "GatedFeedForward: gate \(gate.rows)×\(gate.columns) and up \(up.rows)×\(up.columns) differ")
        let columns = gate.columns
        let integerGate = MatMul.useIntegerActivations && IntegerRowKernels.isPreferred(gate.type) && columns % QuantizedActivations.blockSize == 0
        let integerUp = MatMul.useIntegerActivations && IntegerRowKernels.isPreferred(up.type) && columns % QuantizedActivations.blockSize == 0
        let activations = integerGate || integerUp ? pool.quantizeActivations(x, count: columns) : nil
        let chunk = max(MatMul.rowChunk, gate.rows / (pool.threadCount * 8))
        let distance = WeightMatrix.decodePrefetchDistance
        pool.parallelFor(count: gate.rows, chunk: chunk, minimumChunk: MatMul.rowChunk / 2) { range, _ in
            MatMul.interleaved(range) { r in
                gate.prefetch(aheadOf: r, limit: range.upperBound, distance: distance)
                up.prefetch(aheadOf: r, limit: range.upperBound, distance: distance)
                let g: Float, u: Float
                if integerGate, let activations {
                    g = IntegerRowKernels.dot(gate.type, gate.row(r), activations, count: columns)
                } else {
                    g = RowKernels.dot(gate.type, gate.row(r), x, count: columns)
                }
                if integerUp, let activations {
                    u = IntegerRowKernels.dot(up.type, up.row(r), activations, count: columns)
                } else {
                    u = RowKernels.dot(up.type, up.row(r), x, count: columns)
                }
                out[r] = g / (1 + exp(-g)) * u
            }
        }
    }
}
