// Integer matrix products for prompts (``MatMul`` with 16+ tokens) of the signed 32-element
// formats Q4_0, Q5_0 and Q8_0, with exactly the arithmetic of their single-token integer
// kernels (``pairwiseDot``), so a prompt's outputs are bit-identical to evaluating its tokens
// one at a time.
//
// Shape: tokens in lanes, weights broadcast, as ``BatchMicroKernel`` — but on integer codes.
// Each token's activations are quantised to 10-bit codes (``QuantizedActivations``) and laid
// out for groups of 8 tokens (16 with AVX-512 VNNI: PromptLaneGroup.swift) as pairs: one
// 32-bit lane per token holding the codes of columns k and k+1. A tile of weight rows is
// unpacked once to 16-bit signed codes, and for each pair of columns the row's two codes are
// broadcast to all lanes and multiplied pairwise with the tokens' pairs, summed into 32-bit
// lanes: one `vpdpwssd` (16 multiply-adds on 256 bits, 32 on 512).
//
// Swift has no intrinsic for it. The formulation LLVM turns into `vpmaddwd` (and, added to
// an accumulator, `vpdpwssd`) is ``pairProducts(_:_:)``: a `SIMD16<Int32>` product of the
// widened codes whose even and odd lanes are added (`evenHalf &+ oddHalf`); the same on
// `SIMD32` (512 bits) spills through the stack (hence the C intrinsic for 16 lanes), and
// scalar loops over lanes compile to truncations and `vpmulld`.
//
// After each block the 32-bit sums per row and group are converted to float and added
// into one of four float accumulators (block index mod 4) with d_w·d_x by a fused multiply-
// add, the remaining blocks and the final sum exactly as ``pairwiseDot`` orders them.
//
// On one core this kernel measured well ahead of the f32 broadcast kernel and near the
// `vpdpwssd` throughput: larger register blocks (4 rows × 3 groups, 6 rows × 2 groups) gained
// too little to be worth the remainder handling of 16-row tiles. Whole prompts got clearly
// faster too (BENCHMARKS.md, "Kernel design measurements"). The kernel is ≈ 2/3 of a prompt's time.

/// Products of 16+ tokens with Q4_0, Q5_0 or Q8_0 weights on integer codes; see the file
/// header. Q3_K…Q6_K prompts take it too (IntegerPromptKernel+KQuants.swift). ``MatMul``
/// uses it for prompts when ``KernelOptions/integerActivations`` and
/// ``KernelOptions/integerPrompt`` are set and the format ``isPreferred(_:)``.
enum IntegerPromptKernel {
    /// Tokens per lane group: 16 (512 bits) with AVX-512 VNNI, else 8 (see PromptLaneGroup.swift).
    static var groupLanes: Int { isWide ? WidePromptLanes.lanes : NarrowPromptLanes.lanes }
    /// Rows per register block.
    static let rowBlock = 4
    /// Largest activation code of prompt rows: 15-bit codes (32× finer than the one-token
    /// kernels' 10 bits). The kernel sums code products in 32-bit lanes per 32-column block
    /// (at most 32 · 16383 · 128 < 2³¹), so the width costs nothing; with 10-bit codes
    /// Qwen2.5-0.5B's prompt log-probs were up to 0.085 off the float64 reference, more than
    /// the float path's 0.05. Decode rows that take this kernel (``MatMulEachToken``) keep
    /// ``QuantizedActivations/codeLimit``, the one-token kernels' arithmetic.
    static let promptCodeLimit = 16383

    /// Formats with a prompt kernel whose arithmetic matches their decode kernel
    /// (``pairwiseDot``): signed codes, no offset.
    static func supports(_ type: GGMLType) -> Bool {
        type == .q4_0 || type == .q5_0 || type == .q8_0
    }

    /// K-quant formats this kernel also runs (IntegerPromptKernel+KQuants.swift): their
    /// prompts had no integer kernel and ran on dequantised f32 tiles. Their decode kernels
    /// round differently (10-bit codes, own sum orders), so decode rows never come here.
    static func supportsKQuant(_ type: GGMLType) -> Bool {
        type == .q3_K || type == .q4_K || type == .q5_K || type == .q6_K
    }

    /// Whether the unpacked rows of `type` carry a per-block offset (the K-quants' minimums).
    static func hasOffsets(_ type: GGMLType) -> Bool { type == .q4_K || type == .q5_K }

    /// Formats for which ``MatMul`` takes this kernel for prompts (measured faster than
    /// dequantising to f32).
    static func isPreferred(_ type: GGMLType) -> Bool { supports(type) || supportsKQuant(type) }

    /// Groups of `lanes` (by default ``groupLanes``) tokens for `tokens` tokens.
    static func groups(tokens: Int, lanes: Int = groupLanes) -> Int { (tokens + lanes - 1) / lanes }

    /// 4-byte words ``prepare(_:tokens:columns:into:lanes:)`` writes: per group `columns / 2`
    /// code pairs, `columns / 32` scales and `columns / 32` block sums, for each of the group's lanes.
    static func preparedWords(tokens: Int, columns: Int, lanes: Int = groupLanes) -> Int {
        groups(tokens: tokens, lanes: lanes) * lanes * (columns / 2 + 2 * columns / 32)
    }

    /// 4-byte words of a weight tile of `rows` rows: 16-bit codes, one float scale per block
    /// and (K-quants with minimums) one float offset per block.
    static func tileWords(rows: Int, columns: Int) -> Int { rows * (columns / 2 + 2 * columns / 32) }

    /// Quantises every token row of `x` (`tokens × columns`, `columns` a multiple of 32) as
    /// ``QuantizedActivations`` does for one token, and stores the codes as pairs per lane
    /// group of L = `lanes` tokens: word `(g·columns/2 + p)·L + l` holds codes 2p, 2p+1 of
    /// token L·g + l; then the scales, float `(g·columns/32 + b)·L + l`; then in the same
    /// layout each block's sum of activations as quantised (scale · Σ codes, for the offsets of
    /// K-quant rows). Lanes past the last token are zero.
    static func prepare(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, into words: UnsafeMutableRawPointer, lanes: Int = groupLanes,
                        codeLimit: Int = QuantizedActivations.codeLimit) {
        prepare(x, tokens: tokens, columns: columns, groups: 0..<groups(tokens: tokens, lanes: lanes), into: words, lanes: lanes,
                codeLimit: codeLimit)
    }

    /// ``prepare(_:tokens:columns:into:)`` on all workers of `pool`, a few groups each (the
    /// quantisation is ≈ 3 % of a single-threaded prompt; alone on the calling thread it
    /// left the other workers waiting).
    static func prepare(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, into words: UnsafeMutableRawPointer, pool: ThreadPool,
                        codeLimit: Int = QuantizedActivations.codeLimit) {
        let count = groups(tokens: tokens)
        let raw = Int(bitPattern: words)
        pool.parallelFor(count: count, chunk: max(1, count / (pool.threadCount * 4))) { range, _ in
            prepare(x, tokens: tokens, columns: columns, groups: range, into: UnsafeMutableRawPointer(bitPattern: raw)!, codeLimit: codeLimit)
        }
    }

    /// The groups `groupRange` of ``prepare(_:tokens:columns:into:lanes:)``.
    static func prepare(
        _ x: UnsafePointer<Float>, tokens: Int, columns: Int, groups groupRange: Range<Int>, into words: UnsafeMutableRawPointer,
        lanes groupLanes: Int = groupLanes, codeLimit: Int = QuantizedActivations.codeLimit
    ) {
        let groupCount = groups(tokens: tokens, lanes: groupLanes)
        let pairs = words.bindMemory(to: UInt32.self, capacity: preparedWords(tokens: tokens, columns: columns, lanes: groupLanes))
        let pairCount = groupCount * groupLanes * columns / 2
        let scales = UnsafeMutableRawPointer(pairs + pairCount).assumingMemoryBound(to: Float.self)
        let blocks = columns / 32
        let sums = scales + groupCount * groupLanes * blocks
        if tokens % groupLanes != 0 && groupRange.contains(groupCount - 1) {
            let g = groupCount - 1
            for p in 0..<(columns / 2) { (pairs + (g * columns / 2 + p) * groupLanes).initialize(repeating: 0, count: groupLanes) }
            for b in 0..<blocks {
                (scales + (g * blocks + b) * groupLanes).initialize(repeating: 0, count: groupLanes)
                (sums + (g * blocks + b) * groupLanes).initialize(repeating: 0, count: groupLanes)
            }
        }
        let a = QuantizedActivations(capacity: columns, codeLimit: codeLimit)
        a.splitsCodes = false  // the prompt kernel reads the 16-bit codes only
        for t in (groupRange.lowerBound * groupLanes)..<min(tokens, groupRange.upperBound * groupLanes) {
            a.quantize(x + t * columns, count: columns)
            let g = t / groupLanes, l = t % groupLanes
            let codes = UnsafeRawPointer(a.codes)
            var out = pairs + g * columns / 2 * groupLanes + l
            for p in 0..<(columns / 2) {
                out.pointee = codes.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)
                out += groupLanes
            }
            for b in 0..<blocks {
                scales[(g * blocks + b) * groupLanes + l] = a.scales[b]
                sums[(g * blocks + b) * groupLanes + l] = a.sums[b]
            }
        }
    }

    /// Unpacks rows `rows` of `w` into `tile`: row i's signed codes as `Int16` at
    /// `tile + i·columns` (2 bytes each), then all block scales as floats (row-major), then for
    /// formats with offsets (``hasOffsets(_:)``) all block offsets (row-major).
    static func unpack(_ w: WeightMatrix, rows: Range<Int>, into tile: UnsafeMutableRawPointer) {
        if supportsKQuant(w.type) {
            unpackKQuant(w, rows: rows, into: tile)
            return
        }
        let n = w.columns
        let blocks = n / 32
        let codes = tile.bindMemory(to: Int16.self, capacity: rows.count * n)
        let scales = UnsafeMutableRawPointer(codes + rows.count * n).bindMemory(to: Float.self, capacity: rows.count * blocks)
        for (i, r) in rows.enumerated() {
            let row = w.row(r)
            let out = codes + i * n
            for b in 0..<blocks {
                let q = out + 32 * b
                switch w.type {
                case .q4_0:
                    let p = row + 18 * b
                    scales[i * blocks + b] = halfToFloat(p.loadUnaligned(as: UInt16.self))
                    for j in 0..<16 {
                        let byte = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                        q[j] = Int16(byte & 0x0F) &- 8
                        q[j + 16] = Int16(byte &>> 4) &- 8
                    }
                case .q5_0:
                    let p = row + 22 * b
                    scales[i * blocks + b] = halfToFloat(p.loadUnaligned(as: UInt16.self))
                    let h = fifthBitsOfWord(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                    let qs = loadBytes16(p, 6)
                    let out = UnsafeMutableRawPointer(q)
                    out.storeBytes(of: widenSigned(((qs & 0x0F) | h.low) &- 16), as: SIMD16<Int16>.self)
                    out.storeBytes(of: widenSigned(((qs &>> 4) | h.high) &- 16), toByteOffset: 32, as: SIMD16<Int16>.self)
                case .q8_0:
                    let p = row + 34 * b
                    scales[i * blocks + b] = halfToFloat(p.loadUnaligned(as: UInt16.self))
                    for j in 0..<32 { q[j] = Int16(p.load(fromByteOffset: 2 + j, as: Int8.self)) }
                default:
                    fatalError("IntegerPromptKernel: no prompt kernel for \(w.type)")
                }
            }
        }
    }

    /// `y[t·ldy + firstRow + r] = Σ row r · token t (+ bias)` for the `rows` rows of the
    /// unpacked `tile` (``unpack(_:rows:into:)``; `offsets` if its format ``hasOffsets(_:)``)
    /// and all `tokens` tokens of the prepared activations `xp` (``prepare(_:tokens:columns:into:)``).
    static func multiplyTile(
        _ tile: UnsafeRawPointer, rows: Int, columns: Int, _ xp: UnsafeRawPointer, tokens: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, bias: UnsafePointer<Float>?, offsets: Bool = false
    ) {
        if isWide {
            multiplyTile(WidePromptLanes.self, tile, rows: rows, columns: columns, xp, tokens: tokens, into: y, ldy: ldy, firstRow: firstRow,
                         bias: bias, offsets: offsets)
        } else {
            multiplyTile(NarrowPromptLanes.self, tile, rows: rows, columns: columns, xp, tokens: tokens, into: y, ldy: ldy, firstRow: firstRow,
                         bias: bias, offsets: offsets)
        }
    }

    /// ``multiplyTile(_:rows:columns:_:tokens:into:ldy:firstRow:bias:)`` with groups of `G`
    /// (activations prepared with `lanes: G.lanes`).
    @inline(__always)
    static func multiplyTile<G: PromptLaneGroup>(
        _: G.Type, _ tile: UnsafeRawPointer, rows: Int, columns: Int, _ xp: UnsafeRawPointer, tokens: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, bias: UnsafePointer<Float>?, offsets: Bool = false
    ) {
        let groupLanes = G.lanes
        let n = columns
        let blocks = n / 32
        let groupCount = groups(tokens: tokens, lanes: groupLanes)
        let codes = tile.assumingMemoryBound(to: Int16.self)
        let scales = UnsafeRawPointer(codes + rows * n).assumingMemoryBound(to: Float.self)
        // Pair p of group g at (g·n/2 + p)·lanes 32-bit words, then the scales.
        let pairs = xp
        let xScales = (xp + 4 * groupCount * groupLanes * n / 2).assumingMemoryBound(to: Float.self)
        let xSums = xScales + groupCount * groupLanes * blocks
        // Per-block offsets of K-quant rows (−dmin·m), after the scales; nil for the others.
        let wOffsets: UnsafePointer<Float>? = offsets ? scales + rows * blocks : nil
        if groupCount == 1 {
            // One group (a batch of decode rows): the block below would run its second group
            // on a copy of the first; eight rows × one group does no wasted work.
            var r0 = 0
            while r0 < rows {
                let rowCount = min(oneGroupRowBlock, rows - r0)
                oneGroupBlock(G.self, codes + r0 * n, scales + r0 * blocks, wOffsets.map { $0 + r0 * blocks }, rows: rowCount, columns: n,
                              pairs, xScales, xSums, tokens: tokens, y, ldy: ldy, firstRow: firstRow + r0, bias: bias)
                r0 += rowCount
            }
            return
        }
        var r0 = 0
        while r0 < rows {
            let rowCount = min(rowBlock, rows - r0)
            var g0 = 0
            while g0 < groupCount {
                let groupPair = min(2, groupCount - g0)
                block(G.self, codes + r0 * n, scales + r0 * blocks, wOffsets.map { $0 + r0 * blocks }, rows: rowCount, columns: n,
                      pairs + 4 * g0 * groupLanes * n / 2, xScales + g0 * groupLanes * blocks, xSums + g0 * groupLanes * blocks,
                      groups: groupPair, tokens: min(tokens - g0 * groupLanes, 2 * groupLanes),
                      y + g0 * groupLanes * ldy, ldy: ldy, firstRow: firstRow + r0, bias: bias)
                g0 += groupPair
            }
            r0 += rowCount
        }
    }

    /// Up to 4 rows × up to 2 groups of `G.lanes` tokens (`tokens` real ones, at most 2·`G.lanes`).
    /// With `wOffsets` (K-quant minimums, per row and block) each block also adds
    /// offset · (the tokens' block sums `xSums`) to the float accumulators, right after its
    /// scaled integer sum.
    @inline(__always)
    static func block<G: PromptLaneGroup>(
        _: G.Type, _ codes: UnsafePointer<Int16>, _ wScales: UnsafePointer<Float>, _ wOffsets: UnsafePointer<Float>?, rows: Int, columns n: Int,
        _ pairs: UnsafeRawPointer, _ xScales: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>, groups: Int, tokens: Int,
        _ y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, bias: UnsafePointer<Float>?
    ) {
        let groupLanes = G.lanes
        let blocks = n / 32
        // Missing rows and groups repeat the last real one (their results are not stored).
        let w0 = UnsafeRawPointer(codes), w1 = w0 + 2 * n * min(1, rows - 1)
        let w2 = w0 + 2 * n * min(2, rows - 1), w3 = w0 + 2 * n * min(3, rows - 1)
        let s0 = wScales, s1 = wScales + blocks * min(1, rows - 1)
        let s2 = wScales + blocks * min(2, rows - 1), s3 = wScales + blocks * min(3, rows - 1)
        let x0 = pairs, x1 = pairs + 4 * (groups - 1) * groupLanes * n / 2
        let xs0 = UnsafeRawPointer(xScales), xs1 = UnsafeRawPointer(xScales + (groups - 1) * groupLanes * blocks)
        let xm0 = UnsafeRawPointer(xSums), xm1 = UnsafeRawPointer(xSums + (groups - 1) * groupLanes * blocks)
        let hasOffsets = wOffsets != nil
        let o = wOffsets ?? wScales
        let o0 = o, o1 = o + blocks * min(1, rows - 1), o2 = o + blocks * min(2, rows - 1), o3 = o + blocks * min(3, rows - 1)
        // Float accumulators [row][group][block mod 4] as in ``pairwiseDot``.
        typealias F = G.Floats
        var f = (F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(),
                 F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F())
        // Sums of every block after the last whole group of four, [row][group].
        var tail = (F(), F(), F(), F(), F(), F(), F(), F())
        let whole = blocks / 4 * 4
        withUnsafeMutableBytes(of: &f) { fb in
            let acc = fb.baseAddress!.assumingMemoryBound(to: F.self)
            for b in 0..<blocks {
                var a00 = G.Sums(), a01 = G.Sums(), a10 = G.Sums(), a11 = G.Sums()
                var a20 = G.Sums(), a21 = G.Sums(), a30 = G.Sums(), a31 = G.Sums()
                for p in (16 * b)..<(16 * b + 16) {
                    let v0 = G.load(x0 + 4 * groupLanes * p), v1 = G.load(x1 + 4 * groupLanes * p)
                    let q0 = G.broadcast(w0.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self))
                    let q1 = G.broadcast(w1.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self))
                    let q2 = G.broadcast(w2.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self))
                    let q3 = G.broadcast(w3.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self))
                    a00 = G.dot(a00, v0, q0); a01 = G.dot(a01, v1, q0)
                    a10 = G.dot(a10, v0, q1); a11 = G.dot(a11, v1, q1)
                    a20 = G.dot(a20, v0, q2); a21 = G.dot(a21, v1, q2)
                    a30 = G.dot(a30, v0, q3); a31 = G.dot(a31, v1, q3)
                }
                let d0 = xs0.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                let d1 = xs1.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                if b < whole {
                    let j = b & 3
                    acc[0 + j].addProduct(G.floats(a00), F(repeating: s0[b]) * d0)
                    acc[4 + j].addProduct(G.floats(a01), F(repeating: s0[b]) * d1)
                    acc[8 + j].addProduct(G.floats(a10), F(repeating: s1[b]) * d0)
                    acc[12 + j].addProduct(G.floats(a11), F(repeating: s1[b]) * d1)
                    acc[16 + j].addProduct(G.floats(a20), F(repeating: s2[b]) * d0)
                    acc[20 + j].addProduct(G.floats(a21), F(repeating: s2[b]) * d1)
                    acc[24 + j].addProduct(G.floats(a30), F(repeating: s3[b]) * d0)
                    acc[28 + j].addProduct(G.floats(a31), F(repeating: s3[b]) * d1)
                    if hasOffsets {
                        let m0 = xm0.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                        let m1 = xm1.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                        acc[0 + j].addProduct(F(repeating: o0[b]), m0); acc[4 + j].addProduct(F(repeating: o0[b]), m1)
                        acc[8 + j].addProduct(F(repeating: o1[b]), m0); acc[12 + j].addProduct(F(repeating: o1[b]), m1)
                        acc[16 + j].addProduct(F(repeating: o2[b]), m0); acc[20 + j].addProduct(F(repeating: o2[b]), m1)
                        acc[24 + j].addProduct(F(repeating: o3[b]), m0); acc[28 + j].addProduct(F(repeating: o3[b]), m1)
                    }
                } else {
                    // ``pairwiseStep``: Float(t)·(d·d_x + 0), added after the four-way sum.
                    if b == whole { tail = sums(acc) }
                    tail.0 = tail.0 + G.floats(a00) * (F(repeating: s0[b]) * d0 + 0)
                    tail.1 = tail.1 + G.floats(a01) * (F(repeating: s0[b]) * d1 + 0)
                    tail.2 = tail.2 + G.floats(a10) * (F(repeating: s1[b]) * d0 + 0)
                    tail.3 = tail.3 + G.floats(a11) * (F(repeating: s1[b]) * d1 + 0)
                    tail.4 = tail.4 + G.floats(a20) * (F(repeating: s2[b]) * d0 + 0)
                    tail.5 = tail.5 + G.floats(a21) * (F(repeating: s2[b]) * d1 + 0)
                    tail.6 = tail.6 + G.floats(a30) * (F(repeating: s3[b]) * d0 + 0)
                    tail.7 = tail.7 + G.floats(a31) * (F(repeating: s3[b]) * d1 + 0)
                    if hasOffsets {
                        let m0 = xm0.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                        let m1 = xm1.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                        tail.0.addProduct(F(repeating: o0[b]), m0); tail.1.addProduct(F(repeating: o0[b]), m1)
                        tail.2.addProduct(F(repeating: o1[b]), m0); tail.3.addProduct(F(repeating: o1[b]), m1)
                        tail.4.addProduct(F(repeating: o2[b]), m0); tail.5.addProduct(F(repeating: o2[b]), m1)
                        tail.6.addProduct(F(repeating: o3[b]), m0); tail.7.addProduct(F(repeating: o3[b]), m1)
                    }
                }
            }
            if whole == blocks { tail = sums(acc) }
        }
        if rows == 4 && tokens == 2 * groupLanes {
            // A full block: four consecutive outputs per token as one vector, constant lane
            // indices (the general loop below costs ≈ 10 % of a block call).
            var b4 = SIMD4<Float>()
            if let bias { b4 = UnsafeRawPointer(bias + firstRow).loadUnaligned(as: SIMD4<Float>.self) }
            for l in 0..<groupLanes {
                var v0 = SIMD4<Float>(tail.0[l], tail.2[l], tail.4[l], tail.6[l])
                var v1 = SIMD4<Float>(tail.1[l], tail.3[l], tail.5[l], tail.7[l])
                if bias != nil { v0 += b4; v1 += b4 }
                UnsafeMutableRawPointer(y + l * ldy + firstRow).storeBytes(of: v0, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(y + (l + groupLanes) * ldy + firstRow).storeBytes(of: v1, as: SIMD4<Float>.self)
            }
            return
        }
        withUnsafeBytes(of: &tail) { tb in
            let out = tb.baseAddress!.assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                for t in 0..<tokens {
                    var v = out[(r * 2 + t / groupLanes) * groupLanes + t % groupLanes]
                    if let bias { v += bias[firstRow + r] }
                    y[t * ldy + firstRow + r] = v
                }
            }
        }
    }

    /// `(acc₀ + acc₁) + (acc₂ + acc₃)` per row and group, as ``horizontalSum(_:)-(SIMD4<Float>)``.
    @inline(__always)
    static func sums<F: SIMD>(_ acc: UnsafeMutablePointer<F>) -> (F, F, F, F, F, F, F, F) where F.Scalar == Float {
        @inline(__always) func s(_ i: Int) -> F { (acc[4 * i] + acc[4 * i + 1]) + (acc[4 * i + 2] + acc[4 * i + 3]) }
        return (s(0), s(1), s(2), s(3), s(4), s(5), s(6), s(7))
    }
}

/// Pair `p` of a lane group (scratch is only 16-byte aligned, so an unaligned load).
@inline(__always)
func loadPair(_ pairs: UnsafePointer<SIMD16<Int16>>, _ p: Int) -> SIMD16<Int16> {
    UnsafeRawPointer(pairs + p).loadUnaligned(as: SIMD16<Int16>.self)
}

/// The row's codes 2p and 2p+1 (a 32-bit word at `codes + 4p`) in every pair of lanes.
@inline(__always)
func broadcastPair(_ codes: UnsafeRawPointer, _ p: Int) -> SIMD16<Int16> {
    unsafeBitCast(SIMD8<UInt32>(repeating: codes.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)), to: SIMD16<Int16>.self)
}

/// `r[i] = a[2i]·b[2i] + a[2i+1]·b[2i+1]` in 32 bits: this exact shape (a widened 16-lane
/// product, even plus odd lanes) is what LLVM matches to `vpmaddwd`, and with an addition to
/// an accumulator to `vpdpwssd` (see the file header).
@inline(__always)
func pairProducts(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    var wa = SIMD16<Int32>(), wb = SIMD16<Int32>()
    for i in 0..<16 {
        wa[i] = Int32(a[i])
        wb[i] = Int32(b[i])
    }
    let m = wa &* wb
    return m.evenHalf &+ m.oddHalf
}
