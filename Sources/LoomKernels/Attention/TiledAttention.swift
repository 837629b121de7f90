// Attention tile by tile with an online softmax (Milakov & Gimelshein 2018, "Online
// normalizer calculation for softmax"; FlashAttention, Dao et al. 2022, algorithm 1; on the
// CPU, llama.cpp's `ggml_compute_forward_flash_attn_ext_f16` in ggml-cpu/ops.cpp).
//
// The cache is walked in tiles of ``Attention/tileRows`` positions at fixed boundaries
// (0, 64, 128, …). For each tile a query row computes its scores, raises its running maximum
// m to m′, rescales its running sum l and its output accumulator by α = e^(m − m′), and adds
// the tile's e^(s − m′) and their weighted value rows; at the end the output is divided by l.
// So a row needs scratch for one tile of scores, never a row of the whole context: a 32K
// prompt costs its KV cache plus O(threads × tile) floats.
//
// Every path — prompt jobs of up to 32 rows, decode jobs of one to four heads, one row
// alone — runs each row through the same operations in the same order (``attendTile``), so
// a row's result is bit-identical whichever rows share its job, whichever path it takes and
// however a prompt is cut into chunks: a re-evaluated prompt tail gives exactly a fresh
// request's logits, a batched verification step exactly what single-token decoding gives.

extension Attention {
    /// Up to four query rows attended together over the same KV head, with their
    /// online-softmax state.
    struct RowBlock {
        var q0, q1, q2, q3: UnsafePointer<Float>
        var o0, o1, o2, o3: UnsafeMutablePointer<Float>
        /// Real rows (1–4); the others repeat row 0 and are never stored.
        var count: Int
        /// The last position each row sees (its own).
        var last: SIMD4<Int>
        /// The last position any row of the block sees.
        var lastSeen: Int
        /// Running maximum score and running sum of e^(s − maximum) per row.
        var maximum = SIMD4<Float>(repeating: -.infinity)
        var sum = SIMD4<Float>()
        /// Whether a tile has been added (before it, the outputs hold nothing).
        var started = false

        /// Rows `0..<count` with query, output and last visible position given by `row`.
        init(count: Int, _ row: (Int) -> (query: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, last: Int)) {
            precondition(count >= 1 && count <= 4, "RowBlock of \(count) rows")
            let r0 = row(0)
            let r1 = count > 1 ? row(1) : r0, r2 = count > 2 ? row(2) : r0, r3 = count > 3 ? row(3) : r0
            (q0, q1, q2, q3) = (r0.query, r1.query, r2.query, r3.query)
            (o0, o1, o2, o3) = (r0.output, r1.output, r2.output, r3.output)
            self.count = count
            last = SIMD4(r0.last, r1.last, r2.last, r3.last)
            lastSeen = last.max()
        }
    }

    /// `q·k` with the arithmetic of one pair of ``VectorOps/dot4x4(_:_:_:_:_:_:_:_:count:)``
    /// and ``VectorOps/dot4(_:_:_:_:_:count:)``: one 16-lane accumulator in element order,
    /// then its sum, then the scalar tail.
    @inline(__always)
    static func score(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, headDim: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= headDim {
            acc.addProduct(VectorOps.load(k + i), VectorOps.load(q + i))
            i += 16
        }
        var s = VectorOps.laneSum(acc)
        while i < headDim { s += k[i] * q[i]; i += 1 }
        return s
    }

    /// Floats of per-worker scratch ``attendTile`` and its callers need for `blocks` row
    /// blocks: a tile of scores per row, and a dequantised key tile and value tile.
    static func scratchFloats(blocks: Int, headDim: Int) -> Int {
        4 * tileRows * blocks + 2 * tileRows * headDim
    }

    /// Adds the tile of `positions` cached rows starting at position `first` to the rows of
    /// `b`. Keys and values are float rows (`keyStride`/`valueStride` floats apart, already
    /// the block's KV head); `scores` has room for 4 × ``tileRows`` floats.
    @inline(__always)
    static func attendTile(
        _ b: inout RowBlock, keys: UnsafePointer<Float>, keyStride: Int, values: UnsafePointer<Float>, valueStride: Int,
        first: Int, positions: Int, headDim: Int, scale: Float, scores: UnsafeMutablePointer<Float>
    ) {
        let n = min(positions, b.lastSeen + 1 - first)
        guard n > 0 else { return }
        let s0 = scores, s1 = s0 + tileRows, s2 = s1 + tileRows, s3 = s2 + tileRows
        // Scores: each (query, key) pair is one 16-lane accumulator in element order, then
        // its sum (the arithmetic shared by `dot4`, `dot4x4` and `score`).
        var p = 0
        if b.count == 1 {
            while p + 4 <= n {
                let k = keys + p * keyStride
                let r = VectorOps.dot4(k, k + keyStride, k + 2 * keyStride, k + 3 * keyStride, b.q0, count: headDim)
                UnsafeMutableRawPointer(s0 + p).storeBytes(of: r * scale, as: SIMD4<Float>.self)
                p += 4
            }
            while p < n {
                s0[p] = score(b.q0, keys + p * keyStride, headDim: headDim) * scale
                p += 1
            }
        } else {
            let rowBytes = headDim * MemoryLayout<Float>.stride
            while p + 4 <= n {
                let k = keys + p * keyStride
                if p + Self.keyLead + 4 <= n { prefetchRows(k + Self.keyLead * keyStride, rows: 4, stride: keyStride, bytes: rowBytes) }
                let (r0, r1, r2, r3) = VectorOps.dot4x4(
                    k, k + keyStride, k + 2 * keyStride, k + 3 * keyStride, b.q0, b.q1, b.q2, b.q3, count: headDim)
                UnsafeMutableRawPointer(s0 + p).storeBytes(of: r0 * scale, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(s1 + p).storeBytes(of: r1 * scale, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(s2 + p).storeBytes(of: r2 * scale, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(s3 + p).storeBytes(of: r3 * scale, as: SIMD4<Float>.self)
                p += 4
            }
            while p < n {
                let r = VectorOps.dot4(b.q0, b.q1, b.q2, b.q3, keys + p * keyStride, count: headDim) * scale
                s0[p] = r[0]; s1[p] = r[1]; s2[p] = r[2]; s3[p] = r[3]
                p += 1
            }
        }
        // Online softmax, row by row: new maximum, e^(s − m′) over the positions the row
        // sees (zero past them: the causal mask), the tile's sum, and the rescale factor.
        var alphas = SIMD4<Float>()
        for j in 0..<b.count {
            let row = scores + j * tileRows
            let visible = max(0, min(n, b.last[j] + 1 - first))
            var tileMaximum = -Float.infinity
            for i in 0..<visible where row[i] > tileMaximum { tileMaximum = row[i] }
            let m = max(b.maximum[j], tileMaximum)
            var sums = SIMD16<Float>()
            var i = 0
            while i + 16 <= visible {
                let e = VectorOps.exponential(VectorOps.load(row + i) - m)
                VectorOps.store(e, row + i)
                sums += e
                i += 16
            }
            if i < visible {
                // Padding lanes hold e^(0 − m′); they are masked positions and weigh zero.
                var e = VectorOps.exponential(VectorOps.loadPadded(row + i, count: visible - i) - m)
                for k in (visible - i)..<16 { e[k] = 0 }
                VectorOps.store(e, row + i)
                sums += e
                i += 16
            }
            if i < n { (row + i).update(repeating: 0, count: n - i) }
            let alpha = b.started ? VectorOps.exponential(SIMD4(repeating: b.maximum[j] - m))[0] : 0
            b.sum[j] = b.sum[j] * alpha + VectorOps.laneSum(sums)
            b.maximum[j] = m
            alphas[j] = alpha
        }
        weightedValues(s0, s1, s2, s3, positions: n, values: values, valueStride: valueStride, headDim: headDim,
                       outputs: b.o0, b.o1, b.o2, b.o3, count: b.count, alphas: alphas, started: b.started)
        b.started = true
    }

    /// Divides each row's accumulated output by its sum: the softmax's normalisation.
    @inline(__always)
    static func finish(_ b: RowBlock, headDim: Int) {
        VectorOps.scale(b.o0, by: 1 / b.sum[0], count: headDim)
        if b.count > 1 { VectorOps.scale(b.o1, by: 1 / b.sum[1], count: headDim) }
        if b.count > 2 { VectorOps.scale(b.o2, by: 1 / b.sum[2], count: headDim) }
        if b.count > 3 { VectorOps.scale(b.o3, by: 1 / b.sum[3], count: headDim) }
    }

    /// Attends the row blocks `blocks` (all of one KV head, whose view `keys`/`values` are)
    /// over every tile up to the last position any of them sees, dequantising each tile of a
    /// non-float cache once for all of them.
    ///
    /// - Parameter scratch: ``scratchFloats(blocks:headDim:)`` floats.
    @inline(__always)
    static func attendBlocks(
        _ blocks: UnsafeMutableBufferPointer<RowBlock>, keys: KVRows, values: KVRows,
        headDim: Int, scale: Float, scratch: UnsafeMutablePointer<Float>
    ) {
        let lastSeen = blocks.reduce(0) { max($0, $1.lastSeen) }
        let keyTile = scratch + 4 * tileRows * blocks.count
        let valueTile = keyTile + tileRows * headDim
        var first = 0
        while first <= lastSeen {
            let n = min(tileRows, lastSeen + 1 - first)
            let (k, kStride) = rows(keys, first: first, count: n, headDim: headDim, tile: keyTile)
            let (v, vStride) = rows(values, first: first, count: n, headDim: headDim, tile: valueTile)
            for i in blocks.indices {
                attendTile(&blocks[i], keys: k, keyStride: kStride, values: v, valueStride: vStride,
                           first: first, positions: n, headDim: headDim, scale: scale, scores: scratch + 4 * tileRows * i)
            }
            first += n
        }
        for b in blocks { finish(b, headDim: headDim) }
    }

    /// Rows `first..<first + count` of a head's view as floats: in place for a float cache,
    /// else dequantised into `tile` (rows `headDim` apart).
    @inline(__always)
    static func rows(_ rows: KVRows, first: Int, count: Int, headDim: Int, tile: UnsafeMutablePointer<Float>)
        -> (UnsafePointer<Float>, Int) {
        if let (pointer, stride) = rows.floats { return (pointer + first * stride, stride) }
        rows.dequantize(first: first, count: count, width: headDim, into: tile)
        return (UnsafePointer(tile), headDim)
    }

    /// Attention of one query row over the first `positions` cached rows of its KV head
    /// (`keys`/`values`: that head's view) into `output` (`headDim` floats), with the
    /// arithmetic every other path uses.
    ///
    /// - Parameter scratch: ``scratchFloats(blocks:headDim:)`` floats for one block.
    public static func attendOne(
        query: UnsafePointer<Float>, keys: KVRows, values: KVRows, positions: Int, headDim: Int, scale: Float,
        scratch: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        var block = RowBlock(count: 1) { _ in (query, output, positions - 1) }
        withUnsafeMutablePointer(to: &block) { b in
            attendBlocks(UnsafeMutableBufferPointer(start: b, count: 1), keys: keys, values: values,
                         headDim: headDim, scale: scale, scratch: scratch)
        }
    }

    /// Query rows per prompt job: eight row blocks sharing each dequantised tile.
    static let promptRows = 32

    /// Prompt attention: jobs of up to ``promptRows`` (token, head) rows of one KV head —
    /// consecutive tokens, all heads of the group — so that each key and value tile of a
    /// non-float cache is converted once for 32 rows, and each float tile read once by them.
    static func tiledCausal(
        queries: UnsafePointer<Float>, keys: KVRows, values: KVRows,
        start: Int, tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
        output: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let group = heads / kvHeads
        let scale = 1 / Float(headDim).squareRoot()
        let rowsPerKVHead = tokens * group
        let jobsPerKVHead = (rowsPerKVHead + promptRows - 1) / promptRows
        let jobs = kvHeads * jobsPerKVHead
        let blocksPerJob = promptRows / 4
        let scratchFloats = scratchFloats(blocks: blocksPerJob, headDim: headDim)
        pool.parallelFor(count: jobs, chunk: 1) { range, worker in
            let scratch = pool.scratch(worker: worker, count: scratchFloats)
            for job in range {
                let kvHead = job / jobsPerKVHead
                let firstRow = (job % jobsPerKVHead) * promptRows
                let rowCount = min(promptRows, rowsPerKVHead - firstRow)
                // Row i of the job: token (firstRow + i) / group, head kvHead·group + (firstRow + i) % group.
                let row = { (i: Int) -> (query: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, last: Int) in
                    let r = firstRow + i
                    let t = r / group, offset = (t * heads + kvHead * group + r % group) * headDim
                    return (queries + offset, output + offset, start + t)
                }
                let blockCount = (rowCount + 3) / 4
                withUnsafeTemporaryAllocation(of: RowBlock.self, capacity: blockCount) { blocks in
                    for i in 0..<blockCount {
                        let base = 4 * i
                        blocks.initializeElement(at: i, to: RowBlock(count: min(4, rowCount - base)) { row(base + $0) })
                    }
                    let elements = kvHead * headDim
                    attendBlocks(blocks, keys: keys.advanced(positions: 0, elements: elements),
                                 values: values.advanced(positions: 0, elements: elements),
                                 headDim: headDim, scale: scale, scratch: scratch)
                    _ = blocks.deinitialize()
                }
            }
        }
    }
}
