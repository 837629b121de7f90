/// Matrix products of stored weights with float activations, spread over a ``ThreadPool``.
///
/// Activations are row-major `[tokens × columns]`, outputs `[tokens × rows]`. With one token
/// the activations are quantised once per dispatch (``QuantizedActivations``) and each output
/// is an integer dot product over a stored row (``IntegerRowKernels``), or a fused
/// dequantise-and-dot for formats without an integer kernel; the weights are read once.
/// With several tokens a tile of rows is dequantised once into per-worker scratch and
/// dotted with every token, four rows at a time so each activation vector is loaded once
/// per four rows.
public enum MatMul {
    /// Rows each worker claims at a time: large enough to amortise the claim, small enough
    /// to balance two threads when one is slowed by another process.
    @usableFromInline static let rowChunk = 16

    /// `y = W·x` for `tokens` activation rows.
    public static func multiply(
        _ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int,
        into y: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        multiply(MatMulTarget(w, y), nil, nil, x, tokens: tokens, pool: pool)
    }

    /// Several products that share one input, in a single dispatch (one barrier instead of
    /// three for Q/K/V, two for gate/up).
    public static func multiply(
        _ a: MatMulTarget, _ b: MatMulTarget?, _ c: MatMulTarget?,
        _ x: UnsafePointer<Float>, tokens: Int, pool: ThreadPool
    ) {
        let rowsA = a.matrix.rows
        let rowsB = b?.matrix.rows ?? 0
        let total = rowsA + rowsB + (c?.matrix.rows ?? 0)
        let maxColumns = max(a.matrix.columns, b?.matrix.columns ?? 0, c?.matrix.columns ?? 0)
        // Decode: quantise the activations once for every integer kernel of this dispatch.
        // Plain conditionals and a struct of pointers, not an array literal and the buffer
        // object: the closure below then captures no class reference besides the pool.
        let integer = tokens == 1 && useIntegerActivations && maxColumns % QuantizedActivations.blockSize == 0
            && (prefersInteger(a) || prefersInteger(b) || prefersInteger(c))
        let activations = integer ? pool.quantizeActivations(x, count: maxColumns) : nil
        // Decode rows are cheap (≈ 0.1 µs): claim larger chunks so the shared counter is not
        // contended, still eight per participant for balance. Batches keep tile-sized chunks.
        let chunk = tokens == 1 ? max(rowChunk, total / (pool.threadCount * 8)) : rowChunk
        // Batches: the activations transposed once into blocks of tokens (``BatchMicroKernel``),
        // kept behind the calling participant's tile scratch (worker 0 asks for the same size
        // inside the job, so it gets the same buffer back).
        let tileCount = rowChunk * maxColumns
        let lanes = BatchMicroKernel.lanes(tokens: tokens)
        var transposed: UnsafePointer<Float>? = nil
        if tokens > 1 {
            let count = BatchMicroKernel.transposedCount(tokens: tokens, columns: maxColumns, lanes: lanes)
            let xt = pool.scratch(worker: 0, count: tileCount + count) + tileCount
            BatchMicroKernel.transpose(x, tokens: tokens, columns: maxColumns, lanes: lanes, into: xt)
            transposed = UnsafePointer(xt)
        }
        let scratchCount = tokens > 1 ? tileCount + BatchMicroKernel.transposedCount(tokens: tokens, columns: maxColumns, lanes: lanes) : tileCount
        pool.parallelFor(count: total, chunk: chunk) { range, worker in
            // Chunks may straddle two matrices: split at the boundaries.
            var start = range.lowerBound
            while start < range.upperBound {
                let target: MatMulTarget
                let offset: Int
                if start < rowsA { target = a; offset = 0 }
                else if start < rowsA + rowsB { target = b!; offset = rowsA }
                else { target = c!; offset = rowsA + rowsB }
                let end = min(range.upperBound, offset + target.matrix.rows)
                let local = (start - offset)..<(end - offset)
                if let activations, IntegerRowKernels.isPreferred(target.matrix.type) {
                    multiplyRowsInteger(target, local, activations)
                } else if tokens == 1 {
                    multiplyRowsOneToken(target, local, x)
                } else {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    multiplyRows(target, local, transposed!, lanes: lanes, tokens: tokens, scratch: scratch)
                }
                start = end
            }
        }
    }

    /// Whether single-token products quantise the activations to integer codes and use the integer
    /// kernels (``IntegerRowKernels``) where the weight type has one. On by default; tests
    /// switch it off to compare with the float path.
    nonisolated(unsafe) public static var useIntegerActivations = true

    static func prefersInteger(_ t: MatMulTarget?) -> Bool {
        guard let t else { return false }
        return IntegerRowKernels.isPreferred(t.matrix.type)
    }

    static func multiplyRowsInteger(_ t: MatMulTarget, _ rows: Range<Int>, _ a: ActivationBlocks) {
        let w = t.matrix
        for r in rows {
            var v = IntegerRowKernels.dot(w.type, w.row(r), a, count: w.columns)
            if let bias = t.bias { v += bias[r] }
            t.output[r] = v
        }
    }

    @inlinable static func multiplyRowsOneToken(_ t: MatMulTarget, _ rows: Range<Int>, _ x: UnsafePointer<Float>) {
        let w = t.matrix
        for r in rows {
            var v = RowKernels.dot(w.type, w.row(r), x, count: w.columns)
            if let bias = t.bias { v += bias[r] }
            t.output[r] = v
        }
    }

    /// Rows of `t` for `tokens` activation rows (transposed into blocks of `lanes` tokens at
    /// `xt`), a tile of at most `rowChunk` rows at a time (`scratch` holds one tile of
    /// dequantised rows).
    static func multiplyRows(
        _ t: MatMulTarget, _ rows: Range<Int>, _ xt: UnsafePointer<Float>, lanes: Int, tokens: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        var tileStart = rows.lowerBound
        while tileStart < rows.upperBound {
            let tile = tileStart..<min(tileStart + rowChunk, rows.upperBound)
            multiplyTile(t, tile, xt, lanes: lanes, tokens: tokens, scratch: scratch)
            tileStart = tile.upperBound
        }
    }

    static func multiplyTile(
        _ t: MatMulTarget, _ rows: Range<Int>, _ xt: UnsafePointer<Float>, lanes: Int, tokens: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let w = t.matrix
        let n = w.columns
        let count = rows.count
        for (i, r) in rows.enumerated() { w.dequantizeRow(r, into: scratch + i * n) }
        // Eight rows × one block of tokens per call.
        var r0 = 0
        while r0 < count {
            let rowCount = min(BatchMicroKernel.rowBlock, count - r0)
            var t0 = 0
            while t0 < tokens {
                let take = min(tokens - t0, lanes)
                BatchMicroKernel.multiply(
                    scratch + r0 * n, rows: rowCount, columns: n, xt + t0 * n, lanes: lanes, tokens: take,
                    into: t.output, ldy: w.rows, firstRow: rows.lowerBound + r0, firstToken: t0)
                t0 += take
            }
            r0 += rowCount
        }
        if let bias = t.bias {
            for token in 0..<tokens {
                let yt = t.output + token * w.rows
                for r in rows { yt[r] += bias[r] }
            }
        }
    }
}

/// One product of a ``MatMul`` dispatch: the weights, an optional bias and where to write.
public struct MatMulTarget: @unchecked Sendable {
    public let matrix: WeightMatrix
    public let output: UnsafeMutablePointer<Float>
    public let bias: UnsafePointer<Float>?

    public init(_ matrix: WeightMatrix, _ output: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil) {
        self.matrix = matrix
        self.output = output
        self.bias = bias
    }
}
