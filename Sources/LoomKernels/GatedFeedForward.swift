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
/// Each participant's run of rows is read four rows of gate, then the same four of up, at a
/// time (``MatMul/decodeDots(_:_:count:_:_:limit:distance:)``, the four-row kernels where the
/// format has one). Reading a run's gate rows and then its up rows (one matrix at a time)
/// instead of alternating measured 3–7 % more CPU time for Qwen2.5-Coder-0.5B and SmolLM2 F16
/// decode.
public enum GatedFeedForward {
    /// `out[r] = silu(gate_r · x) · (up_r · x)` for every row r; `gate` and `up` must have
    /// the same shape. `out` needs `gate.rows` floats.
    public static func multiply(
        gate: WeightMatrix, up: WeightMatrix, _ x: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>, pool: ThreadPool, options: KernelOptions = .default
    ) {
        precondition(gate.rows == up.rows && gate.columns == up.columns, "GatedFeedForward: gate \(gate.rows)×\(gate.columns) and up \(up.rows)×\(up.columns) differ")
        let columns = gate.columns
        let integerGate = options.integerActivations && IntegerRowKernels.isPreferred(gate.type) && columns % QuantizedActivations.blockSize == 0
        let integerUp = options.integerActivations && IntegerRowKernels.isPreferred(up.type) && columns % QuantizedActivations.blockSize == 0
        let activations = integerGate || integerUp ? pool.quantizeActivations(x, count: columns) : nil
        let ternaryGate = options.integerActivations && TernaryKernels.supports(gate.type)
        let ternaryUp = options.integerActivations && TernaryKernels.supports(up.type)
        let ternary = ternaryGate || ternaryUp ? pool.quantizeTernaryActivations(x, count: columns) : nil
        let distance = max(0, options.decodePrefetchDistance)
        pool.parallelFor(count: gate.rows, chunk: MatMul.decodeChunk(rows: gate.rows, pool, options), minimumChunk: MatMul.rowChunk / 2) { range, _ in
            gate.prefetchHead(of: range, distance: distance)
            up.prefetchHead(of: range, distance: distance)
            var r = range.lowerBound
            while r < range.upperBound {
                let n = min(4, range.upperBound - r)
                let g = ternaryGate ? TernaryKernels.decodeDots(gate, r, count: n, ternary!, limit: range.upperBound, distance: distance)
                    : MatMul.decodeDots(gate, r, count: n, integerGate ? activations : nil, x, limit: range.upperBound, distance: distance)
                let u = ternaryUp ? TernaryKernels.decodeDots(up, r, count: n, ternary!, limit: range.upperBound, distance: distance)
                    : MatMul.decodeDots(up, r, count: n, integerUp ? activations : nil, x, limit: range.upperBound, distance: distance)
                let y = Self.swiglu(g, u)
                for k in 0..<n { out[r + k] = y[k] }
                r += n
            }
        }
    }

    /// silu(g)·u with the prompt path's exponential (``VectorOps/swiglu(_:up:count:)``), lane for
    /// lane. Out of line: inlined into the row loop it made decode ≈ 3 % slower.
    @inline(never)
    static func swiglu(_ g: SIMD4<Float>, _ u: SIMD4<Float>) -> SIMD4<Float> {
        g / (1 + VectorOps.exponential(-g)) * u
    }
}
