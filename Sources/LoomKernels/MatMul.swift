/// Matrix products of stored weights with float activations, spread over a ``ThreadPool``.
///
/// Activations are row-major `[tokens × columns]`, outputs `[tokens × rows]`. With one token
/// the activations are quantised once per dispatch (``QuantizedActivations``) and each output
/// is an integer dot product over a stored row (``IntegerRowKernels``), or a fused
/// dequantise-and-dot for formats without an integer kernel; the weights are read once.
/// With several tokens a tile of rows is dequantised once into per-worker scratch and
/// multiplied with every token: for small batches (a server decode step) as dot products,
/// four rows × four tokens at a time; for 16 tokens or more (prompts) with the activations
/// transposed once per dispatch and the weights broadcast (``BatchMicroKernel``), which
/// needs no horizontal sums and far fewer loads per multiply-add. Prompts of Q4_0, Q5_0 and
/// Q8_0 weights take the same shape on integer codes instead (``IntegerPromptKernel``:
/// 16-bit pair products, bit-identical to the single-token integer kernels), and so do
/// Q3_K…Q6_K prompts (IntegerPromptKernel+KQuants.swift: exact integers, their own rounding). Ternary weights
/// (TQ1_0, TQ2_0) take 8-bit activations with one scale per 256 (``TernaryActivations``), four
/// rows at a time for one token (``TernaryKernels``) and an unpacked tile for prompts
/// (``TernaryPromptKernel``, bit-identical to the single-token kernel).
///
/// Which of these a batch takes is decided by what its rows are (``BatchRows``), not by its
/// size, when ``KernelOptions/batchInvariant`` is set (the default): decode rows always get
/// the one-token kernels' arithmetic (MatMulEachToken.swift), prompt rows always the prompt
/// kernels', so a row's result never depends on the rows that share its step.
public enum MatMul {
    /// Rows each worker claims at a time: large enough to amortise the claim, small enough
    /// to balance two threads when one is slowed by another process.
    @usableFromInline static let rowChunk = 16

    /// `y = W·x` for `tokens` activation rows. `batch`: see the grouped variant.
    public static func multiply(
        _ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int,
        into y: UnsafeMutablePointer<Float>, pool: ThreadPool, batch: BatchRows = .any, options: KernelOptions = .default
    ) {
        multiply(MatMulTarget(w, y), nil, nil, x, tokens: tokens, pool: pool, batch: batch, options: options)
    }

    /// Several products that share one input, in a single dispatch (one barrier instead of
    /// three for Q/K/V, two for gate/up).
    ///
    /// `batch` says what the rows are (``BatchRows``). `.decode` rows (independent decode
    /// steps: a server step, draft tokens, LM-head rows of generated tokens) quantise their
    /// activations as single-token products do; with ``KernelOptions/batchInvariant`` each
    /// row then runs the one-token kernels (``multiplyEachToken(_:_:_:_:tokens:pool:options:)``),
    /// without it batches of 2–15 take ``IntegerLaneBatchKernel`` or ``IntegerBatchKernels``
    /// (≈ 1.3–2× faster, other rounding). `.prompt` rows with ``KernelOptions/batchInvariant``
    /// always take the prompt kernels, a single row too. Prompts must not quantise like decode
    /// rows where the prompt kernel keeps float activations: quantising every prompt
    /// position's activations in every layer moved SmolLM2's prompt log-probs by up to 0.14
    /// against the float64 reference (the float path stays within 0.05).
    ///
    /// `options` picks among kernels (see ``KernelOptions``).
    public static func multiply(
        _ a: MatMulTarget, _ b: MatMulTarget?, _ c: MatMulTarget?,
        _ x: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, batch: BatchRows = .any,
        options: KernelOptions = .default
    ) {
        if batch == .decode && tokens > 1 && options.batchInvariant {
            multiplyEachToken(a, b, c, x, tokens: tokens, pool: pool, options: options)
            return
        }
        // Prompt rows of a batch-invariant product take the prompt kernels at any size.
        let promptShape = batch == .prompt && options.batchInvariant
        let oneToken = tokens == 1 && !promptShape
        let rowsA = a.matrix.rows
        let rowsB = b?.matrix.rows ?? 0
        let total = rowsA + rowsB + (c?.matrix.rows ?? 0)
        let maxColumns = max(a.matrix.columns, b?.matrix.columns ?? 0, c?.matrix.columns ?? 0)
        // Decode: quantise the activations once for every integer kernel of this dispatch.
        // Plain conditionals and a struct of pointers, not an array literal and the buffer
        // object: the closure below then captures no class reference besides the pool.
        let integer = oneToken && options.integerActivations && maxColumns % QuantizedActivations.blockSize == 0
            && anyTakes(a, b, c, columns: nil, IntegerRowKernels.isPreferred)
        let activations = integer ? pool.quantizeActivations(x, count: maxColumns) : nil
        // Ternary weights take their own 8-bit activations (``TernaryActivations``).
        let ternary = oneToken && options.integerActivations && maxColumns % TernaryActivations.blockSize == 0
            && anyTakes(a, b, c, columns: nil, TernaryKernels.supports)
        let ternaryActivations = ternary ? pool.quantizeTernaryActivations(x, count: maxColumns) : nil
        // Small batches (a server decode step): every token quantised once, integer batch
        // kernels for the formats that have one (``IntegerBatchKernels``).
        let integerBatch = batch == .decode && tokens > 1 && tokens < broadcastMinimumTokens && options.integerActivations && options.integerBatch
            && maxColumns % QuantizedActivations.blockSize == 0
            && anyTakes(a, b, c, columns: maxColumns, IntegerBatchKernels.supports)
        // Up to 8 tokens (one lane group) take the tokens-in-lanes kernel instead when every
        // product of the dispatch has one (``IntegerLaneBatchKernel``, ≈ 2× the batch kernels).
        let laneBatch = integerBatch && options.laneBatch && tokens <= IntegerLaneBatchKernel.maxTokens
            && allTake(a, b, c, columns: maxColumns, IntegerLaneBatchKernel.supports)
        let batchActivations = integerBatch && !laneBatch ? pool.quantizeActivationBatch(x, columns: maxColumns, tokens: tokens) : nil
        // Decode rows are cheap (≈ 0.1 µs): claim long runs (``decodeChunk(rows:_:)``).
        // Batches keep tile-sized chunks. Lane-kernel decode steps claim eight per participant,
        // at least one whole ``laneTileRows`` tile: their rows stream from memory, and longer
        // runs per claim keep each thread's reads sequential for the hardware prefetcher.
        let chunk = laneBatch ? max(laneTileRows, total / (pool.threadCount * 8)) : oneToken ? decodeChunk(rows: total, pool, options) : rowChunk
        // Batches: the activations transposed once into blocks of tokens (``BatchMicroKernel``),
        // kept behind the calling participant's tile scratch (worker 0 asks for the same size
        // inside the job, so it gets the same buffer back).
        let tileCount = laneBatch ? max(rowChunk * maxColumns, IntegerLaneBatchKernel.tileWords(rows: laneTileRows, columns: maxColumns)) : rowChunk * maxColumns
        let lanes = BatchMicroKernel.lanes(tokens: tokens)
        let broadcast = tokens >= broadcastMinimumTokens || promptShape
        // Prompts: integer codes for the formats with an integer prompt kernel (all products
        // of the dispatch must share the column count, as the prepared activations do), the
        // transposed floats for the others.
        let integerPrompt = broadcast && options.integerActivations && options.integerPrompt && maxColumns % QuantizedActivations.blockSize == 0
            && anyTakes(a, b, c, columns: maxColumns, IntegerPromptKernel.isPreferred)
        let ternaryPrompt = broadcast && options.integerActivations && options.integerPrompt && maxColumns % TernaryActivations.blockSize == 0
            && anyTakes(a, b, c, columns: maxColumns, TernaryKernels.supports)
        let floatBroadcast = broadcast && !allTake(a, b, c, columns: maxColumns) {
            (integerPrompt && IntegerPromptKernel.isPreferred($0)) || (ternaryPrompt && TernaryKernels.supports($0))
        }
        let transposedCount = floatBroadcast ? BatchMicroKernel.transposedCount(tokens: tokens, columns: maxColumns, lanes: lanes) : 0
        let preparedCount = integerPrompt ? IntegerPromptKernel.preparedWords(tokens: tokens, columns: maxColumns) : 0
        let laneCount = laneBatch ? IntegerLaneBatchKernel.preparedWords(columns: maxColumns) : 0
        let ternaryCount = ternaryPrompt ? TernaryPromptKernel.preparedWords(tokens: tokens, columns: maxColumns) : 0
        let scratchCount = tileCount + transposedCount + preparedCount + laneCount + ternaryCount
        var laneActivations: UnsafeRawPointer? = nil
        if laneBatch {
            let xl = UnsafeMutableRawPointer(pool.scratch(worker: 0, count: scratchCount) + tileCount)
            pool.prepareLaneBatch(x, tokens: tokens, columns: maxColumns, into: xl)
            laneActivations = UnsafeRawPointer(xl)
        }
        var transposed: UnsafePointer<Float>? = nil
        var prepared: UnsafeRawPointer? = nil
        var ternaryPrepared: UnsafeRawPointer? = nil
        if broadcast {
            let scratch0 = pool.scratch(worker: 0, count: scratchCount)
            if floatBroadcast {
                let xt = scratch0 + tileCount
                BatchMicroKernel.transpose(x, tokens: tokens, columns: maxColumns, lanes: lanes, into: xt)
                transposed = UnsafePointer(xt)
            }
            if integerPrompt {
                let xp = UnsafeMutableRawPointer(scratch0 + tileCount + transposedCount)
                // Prompt rows get 15-bit codes; decode rows the one-token kernels' 10 bits.
                IntegerPromptKernel.prepare(x, tokens: tokens, columns: maxColumns, into: xp, pool: pool,
                                            codeLimit: batch == .decode ? QuantizedActivations.codeLimit : IntegerPromptKernel.promptCodeLimit)
                prepared = UnsafeRawPointer(xp)
            }
            if ternaryPrompt {
                let xp = UnsafeMutableRawPointer(scratch0 + tileCount + transposedCount + preparedCount + laneCount)
                TernaryPromptKernel.prepare(x, tokens: tokens, columns: maxColumns, into: xp)
                ternaryPrepared = UnsafeRawPointer(xp)
            }
        }
        // Decode: chunks taper to half a tile at the end of the job (see ThreadPool.parallelFor).
        pool.parallelFor(count: total, chunk: chunk, minimumChunk: oneToken ? rowChunk / 2 : nil) { range, worker in
            forEachTarget(range, a, b, c) { target, local in
                if let ternaryActivations, TernaryKernels.supports(target.matrix.type) {
                    multiplyRowsTernary(target, local, ternaryActivations, options)
                } else if let ternaryPrepared, takes(target, columns: maxColumns, TernaryKernels.supports) {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    multiplyRowsTernaryPrompt(target, local, ternaryPrepared, tokens: tokens, scratch: UnsafeMutableRawPointer(scratch))
                } else if let activations, IntegerRowKernels.isPreferred(target.matrix.type) {
                    multiplyRowsInteger(target, local, activations, options)
                } else if let prepared, takes(target, columns: maxColumns, IntegerPromptKernel.isPreferred) {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    multiplyRowsIntegerPrompt(target, local, prepared, tokens: tokens, scratch: UnsafeMutableRawPointer(scratch))
                } else if oneToken {
                    multiplyRowsOneToken(target, local, x, options)
                } else if let laneActivations {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    multiplyRowsLaneBatch(target, local, laneActivations, tokens: tokens, prefetchDistance: options.lanePrefetchDistance, scratch: UnsafeMutableRawPointer(scratch))
                } else if let batchActivations, takes(target, columns: maxColumns, IntegerBatchKernels.supports) {
                    let w = target.matrix
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    IntegerBatchKernels.multiply(
                        w.type, w, rows: local, batchActivations, into: target.output, ldy: w.rows, bias: target.bias,
                        scratch: UnsafeMutableRawPointer(scratch))
                } else {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    multiplyRows(target, local, x, transposed, lanes: lanes, tokens: tokens, scratch: scratch)
                }
            }
        }
    }

    /// Calls `body` with each target of a dispatch that rows `range` of the dispatch (the
    /// rows of `a`, then `b`, then `c`) cover, and the range of that target's own rows.
    @inline(__always)
    static func forEachTarget(
        _ range: Range<Int>, _ a: MatMulTarget, _ b: MatMulTarget?, _ c: MatMulTarget?, _ body: (MatMulTarget, Range<Int>) -> Void
    ) {
        let rowsA = a.matrix.rows, rowsB = b?.matrix.rows ?? 0
        var start = range.lowerBound
        while start < range.upperBound {
            let target: MatMulTarget
            let offset: Int
            if start < rowsA { target = a; offset = 0 }
            else if start < rowsA + rowsB { target = b!; offset = rowsA }
            else { target = c!; offset = rowsA + rowsB }
            let end = min(range.upperBound, offset + target.matrix.rows)
            body(target, (start - offset)..<(end - offset))
            start = end
        }
    }

    /// Whether target `t` exists and goes to a kernel that takes its type (`kernel`, one of
    /// the integer kernels' type tests) with activations of `columns` columns (nil: any).
    static func takes(_ t: MatMulTarget?, columns: Int?, _ kernel: (GGMLType) -> Bool) -> Bool {
        guard let t else { return false }
        return kernel(t.matrix.type) && (columns == nil || t.matrix.columns == columns)
    }

    /// Whether any of a dispatch's targets ``takes(_:columns:_:)`` the kernel.
    static func anyTakes(_ a: MatMulTarget, _ b: MatMulTarget?, _ c: MatMulTarget?, columns: Int?, _ kernel: (GGMLType) -> Bool) -> Bool {
        takes(a, columns: columns, kernel) || takes(b, columns: columns, kernel) || takes(c, columns: columns, kernel)
    }

    /// Whether every target of a dispatch (`b` and `c` where present) takes the kernel.
    static func allTake(_ a: MatMulTarget, _ b: MatMulTarget?, _ c: MatMulTarget?, columns: Int?, _ kernel: (GGMLType) -> Bool) -> Bool {
        takes(a, columns: columns, kernel) && (b == nil || takes(b, columns: columns, kernel)) && (c == nil || takes(c, columns: columns, kernel))
    }

    /// Batches of at least this many tokens take the transposed (tokens-in-lanes) kernel;
    /// smaller ones the dot form, which measured ≈ 9 % faster at 8 tokens (a server decode
    /// step) in a `perf` profile of `loom serve`, and does not waste lanes on 9–15 tokens.
    static let broadcastMinimumTokens = 16

    /// Rows of `t` for the prepared integer activations of `tokens` tokens
    /// (``IntegerPromptKernel/prepare(_:tokens:columns:into:)``), a tile of at most `rowChunk`
    /// rows unpacked at a time into `scratch`.
    static func multiplyRowsIntegerPrompt(
        _ t: MatMulTarget, _ rows: Range<Int>, _ prepared: UnsafeRawPointer, tokens: Int, scratch: UnsafeMutableRawPointer
    ) {
        let w = t.matrix
        forEachTile(rows) { tile in
            IntegerPromptKernel.unpack(w, rows: tile, into: scratch)
            IntegerPromptKernel.multiplyTile(
                UnsafeRawPointer(scratch), rows: tile.count, columns: w.columns, prepared, tokens: tokens,
                into: t.output, ldy: w.rows, firstRow: tile.lowerBound, bias: t.bias, offsets: IntegerPromptKernel.hasOffsets(w.type))
        }
    }

    /// Calls `body` for consecutive tiles of at most ``rowChunk`` rows covering `rows`.
    @inline(__always)
    static func forEachTile(_ rows: Range<Int>, size: Int = rowChunk, _ body: (Range<Int>) -> Void) {
        var start = rows.lowerBound
        while start < rows.upperBound {
            let tile = start..<min(start + size, rows.upperBound)
            body(tile)
            start = tile.upperBound
        }
    }

    /// Rows a lane-kernel step unpacks per tile (and the smallest chunk a thread claims).
    /// Its weights stream from memory, and the unpacking stalls on them (`perf annotate`);
    /// longer contiguous runs keep the hardware prefetcher ahead. In `loom serve` 16 rows
    /// measured clearly slower, 32 to 128 about the same (BENCHMARKS.md, "Kernel design
    /// measurements"). The 64-row tile (≈ 74 KB of 16-bit codes at 576 columns) stays in L2.
    static let laneTileRows = 64

    /// Rows of `t` for the lane-prepared activations of `tokens` tokens (groups of
    /// ``IntegerLaneBatchKernel/maxTokens`` one after the other, as
    /// ``IntegerLaneBatchKernel/prepare(_:tokens:columns:into:)`` lays them out), a tile of at
    /// most ``laneTileRows`` rows unpacked at a time into `scratch` and run for every group.
    /// With `oneToken` (the activations of every token, quantised alone, and the first token to
    /// take them), tokens from there on run the one-token kernels over the tile instead
    /// (``laneRemainder(tokens:)``).
    static func multiplyRowsLaneBatch(
        _ t: MatMulTarget, _ rows: Range<Int>, _ prepared: UnsafeRawPointer, tokens: Int, prefetchDistance: Int,
        scratch: UnsafeMutableRawPointer, oneToken: (activations: UnsafePointer<ActivationBlocks>, from: Int)? = nil,
        options: KernelOptions = .default
    ) {
        let w = t.matrix
        let hasOffsets = w.type == .q4_1 || w.type == .q5_1
        let lanes = IntegerLaneBatchKernel.maxTokens
        let groupBytes = 4 * IntegerLaneBatchKernel.preparedWords(columns: w.columns)
        let laneTokens = oneToken?.from ?? tokens
        forEachTile(rows, size: laneTileRows) { tile in
            IntegerLaneBatchKernel.unpack(w, rows: tile, prefetchLimit: rows.upperBound, prefetchDistance: prefetchDistance, into: scratch)
            var t0 = 0
            while t0 < laneTokens {
                IntegerLaneBatchKernel.multiplyTile(
                    UnsafeRawPointer(scratch), rows: tile.count, columns: w.columns, hasOffsets: hasOffsets, prepared + t0 / lanes * groupBytes,
                    tokens: min(lanes, laneTokens - t0), into: t.output + t0 * w.rows, ldy: w.rows, firstRow: tile.lowerBound, bias: t.bias)
                t0 += lanes
            }
            if let oneToken {
                // The tile's packed rows were just read: they are in cache for these passes.
                for token in laneTokens..<tokens {
                    multiplyRowsInteger(MatMulTarget(w, t.output + token * w.rows, bias: t.bias), tile, oneToken.activations[token], options)
                }
            }
        }
    }

    /// Tokens after the last whole lane group that are cheaper through the one-token kernels
    /// than through another lane pass, which costs as much for 1 token as for 8: up to 3
    /// (`scripts/bench_batch_kernels.swift`: Q4_1 one-token ≈ 12.5 MAC/ns per token, the lane
    /// kernel ≈ 25 MAC/ns for 8 tokens, so 4 one-token passes cost about one lane pass). A
    /// speculative verification of 8 drafts is 9 rows.
    static func laneRemainder(tokens: Int) -> Int {
        let rest = tokens % IntegerLaneBatchKernel.maxTokens
        return tokens > IntegerLaneBatchKernel.maxTokens && rest <= 3 ? rest : 0
    }

    /// Rows of `t` for `tokens` activation rows (transposed into blocks of `lanes` tokens at
    /// `xt`), a tile of at most `rowChunk` rows at a time (`scratch` holds one tile of
    /// dequantised rows).
    static func multiplyRows(
        _ t: MatMulTarget, _ rows: Range<Int>, _ x: UnsafePointer<Float>, _ xt: UnsafePointer<Float>?,
        lanes: Int, tokens: Int, scratch: UnsafeMutablePointer<Float>
    ) {
        let w = t.matrix
        forEachTile(rows) { tile in
            for (i, r) in tile.enumerated() { w.dequantizeRow(r, into: scratch + i * w.columns) }
            if let xt {
                multiplyTile(t, tile, xt, lanes: lanes, tokens: tokens, scratch: scratch)
            } else {
                multiplyTileDotForm(t, tile, x, tokens: tokens, scratch: scratch)
            }
        }
    }

    /// Large batches: the dequantised tile (in `scratch`) times the transposed activations,
    /// one register block of rows (``BatchMicroKernel/rowBlock(lanes:)``) × one block of tokens
    /// per ``BatchMicroKernel`` call.
    static func multiplyTile(
        _ t: MatMulTarget, _ rows: Range<Int>, _ xt: UnsafePointer<Float>, lanes: Int, tokens: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let w = t.matrix
        let n = w.columns
        let count = rows.count
        var r0 = 0
        while r0 < count {
            let rowCount = min(BatchMicroKernel.rowBlock(lanes: lanes), count - r0)
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

    /// Small batches: the dequantised tile dotted with each token, four rows × four tokens
    /// at a time (``VectorOps/dot4x4``).
    static func multiplyTileDotForm(
        _ t: MatMulTarget, _ rows: Range<Int>, _ x: UnsafePointer<Float>, tokens: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let w = t.matrix
        let n = w.columns
        let count = rows.count
        let ldy = w.rows
        // Four tokens at a time through the 4×4 micro-kernel (same sums as dot4, half the loads).
        var t0 = 0
        while t0 + 4 <= tokens {
            let x0 = x + t0 * n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n
            let y0 = t.output + t0 * ldy, y1 = y0 + ldy, y2 = y1 + ldy, y3 = y2 + ldy
            var i = 0
            while i + 4 <= count {
                let (d0, d1, d2, d3) = VectorOps.dot4x4(
                    scratch + i * n, scratch + (i + 1) * n, scratch + (i + 2) * n, scratch + (i + 3) * n,
                    x0, x1, x2, x3, count: n)
                let r = rows.lowerBound + i
                y0[r] = d0.x; y0[r + 1] = d0.y; y0[r + 2] = d0.z; y0[r + 3] = d0.w
                y1[r] = d1.x; y1[r + 1] = d1.y; y1[r + 2] = d1.z; y1[r + 3] = d1.w
                y2[r] = d2.x; y2[r + 1] = d2.y; y2[r + 2] = d2.z; y2[r + 3] = d2.w
                y3[r] = d3.x; y3[r + 1] = d3.y; y3[r + 2] = d3.z; y3[r + 3] = d3.w
                i += 4
            }
            for token in t0..<(t0 + 4) {
                let xt = x + token * n
                let yt = t.output + token * ldy
                for j in i..<count { yt[rows.lowerBound + j] = RowKernels.dotF32(scratch + j * n, xt, count: n) }
                if let bias = t.bias {
                    for r in rows { yt[r] += bias[r] }
                }
            }
            t0 += 4
        }
        for token in t0..<tokens {
            let xt = x + token * n
            let yt = t.output + token * ldy
            var i = 0
            while i + 4 <= count {
                let d = VectorOps.dot4(scratch + i * n, scratch + (i + 1) * n, scratch + (i + 2) * n, scratch + (i + 3) * n, xt, count: n)
                let r = rows.lowerBound + i
                yt[r] = d.x; yt[r + 1] = d.y; yt[r + 2] = d.z; yt[r + 3] = d.w
                i += 4
            }
            while i < count {
                yt[rows.lowerBound + i] = RowKernels.dotF32(scratch + i * n, xt, count: n)
                i += 1
            }
            if let bias = t.bias {
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
