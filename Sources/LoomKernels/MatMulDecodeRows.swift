// Single-token (decode) rows of a matrix product: how each participant's run of rows is
// claimed, prefetched and read.
//
// A decode step reads every weight once, mostly from DRAM, in runs of rows claimed from the
// pool. Three things measured to matter on the shared 2-core Zen 4 (numbers in
// BENCHMARKS.md, "Kernel design measurements"):
// - the formats with a four-row kernel read four rows at a time (``integerDots(_:_:count:_:limit:distance:)``);
// - every run asks for its first `distance` bytes as soon as it is claimed (the prefetch
//   ahead of each row never covers them), with a larger gain at a longer distance, where
//   the uncovered head is larger;
// - runs are longer: four per participant instead of eight (fewer uncovered heads and
//   claims).

extension MatMul {
    /// The rows a participant claims at a time in a decode dispatch of `rows` rows
    /// (``KernelOptions/decodeChunksPerThread`` runs each; the last ones taper, see
    /// ``ThreadPool/parallelFor(count:chunk:minimumChunk:_:)``).
    @inline(__always)
    static func decodeChunk(rows: Int, _ pool: ThreadPool, _ options: KernelOptions) -> Int {
        max(rowChunk, rows / (pool.threadCount * max(1, options.decodeChunksPerThread)))
    }

    /// The prefetch distance for a run of `rows` of `w`: longer for runs of a megabyte or more
    /// (the LM head's), where the lead is not lost at the start of every short run (measured
    /// faster on SmolLM2's LM head; BENCHMARKS.md, "Kernel design measurements").
    @inline(__always)
    static func decodePrefetchDistance(_ w: WeightMatrix, rows: Range<Int>, _ options: KernelOptions) -> Int {
        max(0, rows.count * w.rowBytes >= 1 << 20 ? options.longRunPrefetchDistance : options.decodePrefetchDistance)
    }

    static func multiplyRowsInteger(_ t: MatMulTarget, _ rows: Range<Int>, _ a: ActivationBlocks, _ options: KernelOptions) {
        let w = t.matrix
        let distance = decodePrefetchDistance(w, rows: rows, options)
        w.prefetchHead(of: rows, distance: distance)
        var r = rows.lowerBound
        while r < rows.upperBound {
            let n = min(4, rows.upperBound - r)
            var v = integerDots(w, r, count: n, a, limit: rows.upperBound, distance: distance)
            if let bias = t.bias { for k in 0..<n { v[k] += bias[r + k] } }
            for k in 0..<n { t.output[r + k] = v[k] }
            r += n
        }
    }

    /// Decode rows of a ternary `t` (``TernaryKernels``), four at a time.
    static func multiplyRowsTernary(_ t: MatMulTarget, _ rows: Range<Int>, _ a: TernaryActivationBlocks, _ options: KernelOptions) {
        let w = t.matrix
        let distance = decodePrefetchDistance(w, rows: rows, options)
        w.prefetchHead(of: rows, distance: distance)
        var r = rows.lowerBound
        while r < rows.upperBound {
            let n = min(4, rows.upperBound - r)
            var v = TernaryKernels.decodeDots(w, r, count: n, a, limit: rows.upperBound, distance: distance)
            if let bias = t.bias { for k in 0..<n { v[k] += bias[r + k] } }
            for k in 0..<n { t.output[r + k] = v[k] }
            r += n
        }
    }

    /// Prompt rows of a ternary `t` for the prepared activations of `tokens` tokens
    /// (``TernaryPromptKernel``), a tile of at most `rowChunk` rows unpacked at a time into `scratch`.
    static func multiplyRowsTernaryPrompt(
        _ t: MatMulTarget, _ rows: Range<Int>, _ prepared: UnsafeRawPointer, tokens: Int, scratch: UnsafeMutableRawPointer
    ) {
        let w = t.matrix
        forEachTile(rows) { tile in
            TernaryPromptKernel.unpack(w, rows: tile, into: scratch)
            TernaryPromptKernel.multiplyTile(
                UnsafeRawPointer(scratch), rows: tile.count, columns: w.columns, prepared, tokens: tokens,
                into: t.output, ldy: w.rows, firstRow: tile.lowerBound, bias: t.bias)
        }
    }

    static func multiplyRowsOneToken(_ t: MatMulTarget, _ rows: Range<Int>, _ x: UnsafePointer<Float>, _ options: KernelOptions) {
        let w = t.matrix
        let distance = decodePrefetchDistance(w, rows: rows, options)
        w.prefetchHead(of: rows, distance: distance)
        for r in rows {
            w.prefetch(aheadOf: r, limit: rows.upperBound, distance: distance)
            var v = RowKernels.dot(w.type, w.row(r), x, count: w.columns)
            if let bias = t.bias { v += bias[r] }
            t.output[r] = v
        }
    }

    /// Rows r..<r + count (count 1...4) of `w` times the activations, in the first `count`
    /// lanes: with the integer kernels on `a` when it is given
    /// (``integerDots(_:_:count:_:limit:distance:)``), else with the float kernels on `x`.
    @inline(__always)
    static func decodeDots(
        _ w: WeightMatrix, _ r: Int, count: Int, _ a: ActivationBlocks?, _ x: UnsafePointer<Float>, limit: Int, distance: Int
    ) -> SIMD4<Float> {
        if let a { return integerDots(w, r, count: count, a, limit: limit, distance: distance) }
        var v = SIMD4<Float>()
        for k in 0..<count {
            w.prefetch(aheadOf: r + k, limit: limit, distance: distance)
            v[k] = RowKernels.dot(w.type, w.row(r + k), x, count: w.columns)
        }
        return v
    }

    /// Rows r..<r + count (count 1...4) of `w` times the activations, in the first `count`
    /// lanes, prefetching `distance` bytes ahead up to row `limit`.
    ///
    /// Formats with a four-row kernel (``IntegerRowKernels/dotFourRows(_:_:rowBytes:_:count:)``)
    /// always run it on four rows: fewer are taken from the group of four that ends with them
    /// (the rows before were read already, by this run or a neighbouring one). Every lane of
    /// that kernel runs the same operations, so a row's value does not depend on where the
    /// caller's run starts or ends (runs are claimed dynamically by the pool's workers), nor
    /// on the thread count. Other formats take one row at a time.
    @inline(__always)
    static func integerDots(_ w: WeightMatrix, _ r: Int, count: Int, _ a: ActivationBlocks, limit: Int, distance: Int) -> SIMD4<Float> {
        var v = SIMD4<Float>()
        guard IntegerRowKernels.hasFourRowKernel(w.type) else {
            for k in 0..<count {
                w.prefetch(aheadOf: r + k, limit: limit, distance: distance)
                v[k] = IntegerRowKernels.dot(w.type, w.row(r + k), a, count: w.columns)
            }
            return v
        }
        if count == 4 {
            w.prefetch(aheadOf: r, rows: 4, limit: limit, distance: distance)
            return IntegerRowKernels.dotFourRows(w.type, w.row(r), rowBytes: w.rowBytes, a, count: w.columns)
        }
        let first = r + count - 4
        if first >= 0 {
            let group = IntegerRowKernels.dotFourRows(w.type, w.row(first), rowBytes: w.rowBytes, a, count: w.columns)
            for k in 0..<count { v[k] = group[4 - count + k] }
        } else {
            // A matrix of fewer than four rows: each row on its own, in all four lanes.
            for k in 0..<count { v[k] = IntegerRowKernels.dotFourRows(w.type, w.row(r + k), rowBytes: 0, a, count: w.columns)[0] }
        }
        return v
    }
}
