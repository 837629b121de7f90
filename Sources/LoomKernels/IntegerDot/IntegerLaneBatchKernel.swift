// Server decode steps of 2–8 tokens (one per sequence) on integer codes, tokens in lanes.
//
// ``IntegerBatchKernels`` dots each unpacked weight block with every token's codes (a
// reduction per block and token, bounded by loads). This kernel takes
// the shape of ``IntegerPromptKernel`` instead: the tokens' 10-bit codes sit in the eight
// 32-bit lanes of one vector as pairs of adjacent columns, and each row's pair of weight codes
// is broadcast and multiplied pairwise into them (``pairProducts(_:_:)``, one `vpdpwssd`).
// With one lane group (≤ 8 tokens) the prompt kernel's 4 rows × 2 groups block would waste
// half its work, so the register block here is 8 rows × 1 group: per column pair one load
// and eight broadcasts for eight `vpdpwssd`, the same ratio as the prompt kernel.
//
// It also serves formats with an offset (Q4_1, Q5_1: unsigned codes, `+ m·Σx` per block) and
// keeps one float accumulator per row and token, added in block order. For Q4_1 and Q5_1 that
// is exactly the single-token kernel where the byte dot is not native (IntegerDotOffset.swift
// was written to match it), so ``MatMul``'s batch-invariant decode rows take this kernel for
// them (MatMulEachToken.swift); for the signed formats it rounds differently from their
// single-token kernels (``pairwiseDot`` sums blocks in four accumulators).
// Weights are unpacked with the batch kernels' vector unpacking (``unpackPairs``, pair order:
// codes j and j + 16 share a 32-bit word), and the activations are laid out in that order;
// a first version with scalar per-code unpacking ran at half the speed of the batch kernels.
// This one measured faster than the batch kernels in L2 and with weights from memory
// (scripts/bench_batch_kernels.swift; BENCHMARKS.md, "Kernel design measurements").
//
// From memory the unpacking waits on DRAM (`perf annotate`: stalls after the byte loads;
// ≈ 30 % of a `loom serve` step at 8 streams). Touching the next tile's cache lines first
// (ordinary loads) made it slower: a load blocks retirement until its line arrives. Real
// prefetch instructions do not, so ``unpack`` asks for the rows 6 KB ahead
// (WeightPrefetch.swift), which measured clearly faster, kernel and server step alike.

/// Products of 2–8 tokens with Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0 weights on integer codes,
/// tokens in lanes; see the file header. ``MatMul`` uses it for decode steps
/// (`.decode` rows without ``KernelOptions/batchInvariant``) of at most ``maxTokens`` tokens,
/// and for batch-invariant decode rows of Q4_1/Q5_1 (``MatMul/laneKernelMatchesOneToken(_:)``),
/// eight tokens per pass.
enum IntegerLaneBatchKernel {
    /// Most tokens per product (one lane group).
    static let maxTokens = 8
    /// Rows per register block.
    static let rowBlock = 8

    static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return true
        default: return false
        }
    }

    /// 4-byte words ``prepare(_:tokens:columns:into:)`` writes: `columns / 2` code pairs, then
    /// `columns / 32` scales and as many block sums, each for the 8 lanes.
    static func preparedWords(columns: Int) -> Int { maxTokens * (columns / 2 + 2 * (columns / 32)) }

    /// 4-byte words of an unpacked tile of `rows` rows: 16-bit codes, then a scale and an
    /// offset per block.
    static func tileWords(rows: Int, columns: Int) -> Int { rows * (columns / 2 + 2 * (columns / 32)) }

    /// Quantises the `tokens` (≤ 8) rows of `x` as ``QuantizedActivations`` does and lays them
    /// out in lanes: word `8(16b + j) + l` holds codes 32b + j and 32b + j + 16 of token l (the
    /// pair order of ``BatchIntegerBlock``), then the scales (float `8b + l`), then the sums `scale·Σ codes` of each block. Missing lanes are zero.
    static func prepare(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, into words: UnsafeMutableRawPointer,
                        scratch a: QuantizedActivations) {
        precondition(tokens >= 1 && tokens <= maxTokens, "IntegerLaneBatchKernel: \(tokens) tokens")
        if tokens < maxTokens { words.initializeMemory(as: UInt32.self, repeating: 0, count: preparedWords(columns: columns)) }
        for t in 0..<tokens {
            a.quantize(x + t * columns, count: columns)
            layOut(ActivationBlocks(a), lane: t, columns: columns, into: words)
        }
    }

    /// ``prepare(_:tokens:columns:into:scratch:)`` for `tokens` (any number) tokens already
    /// quantised (`activations[t]`, as ``TokenActivationSet`` holds them): group g of 8 tokens
    /// at `words + 4·g·preparedWords(columns:)`.
    static func prepare(_ activations: UnsafePointer<ActivationBlocks>, tokens: Int, columns: Int, into words: UnsafeMutableRawPointer) {
        let groupBytes = 4 * preparedWords(columns: columns)
        for g in 0..<(tokens + maxTokens - 1) / maxTokens {
            let group = words + g * groupBytes
            let count = min(maxTokens, tokens - g * maxTokens)
            if count < maxTokens { group.initializeMemory(as: UInt32.self, repeating: 0, count: preparedWords(columns: columns)) }
            for l in 0..<count { layOut(activations[g * maxTokens + l], lane: l, columns: columns, into: group) }
        }
    }

    /// Lane `lane` of a prepared group: one token's codes in pair order, scales and sums.
    static func layOut(_ a: ActivationBlocks, lane t: Int, columns: Int, into words: UnsafeMutableRawPointer) {
        let lanes = maxTokens
        let blocks = columns / 32
        let pairs = words.bindMemory(to: UInt32.self, capacity: preparedWords(columns: columns))
        let scales = UnsafeMutableRawPointer(pairs + lanes * columns / 2).assumingMemoryBound(to: Float.self)
        let sums = scales + lanes * blocks
        // Pair order, as the unpacked weights: word 16b + j holds codes 32b + j and 32b + j + 16.
        for b in 0..<blocks {
            for j in 0..<16 {
                let low = UInt32(UInt16(bitPattern: a.codes[32 * b + j]))
                let high = UInt32(UInt16(bitPattern: a.codes[32 * b + j + 16]))
                pairs[lanes * (16 * b + j) + t] = low | high &<< 16
            }
            scales[lanes * b + t] = a.scales[b]
            sums[lanes * b + t] = a.sums[b]
        }
    }

    /// Unpacks rows `rows` of `w` into `tile`: codes as `Int16` in the pair order of
    /// ``BatchIntegerBlock`` (signed formats centred, offset formats as stored), then per row
    /// and block the scale `d`, then the offset `m` (0 for formats without one).
    static func unpack(_ w: WeightMatrix, rows: Range<Int>, prefetchLimit: Int, prefetchDistance: Int = KernelOptions.default.lanePrefetchDistance, into tile: UnsafeMutableRawPointer) {
        switch w.type {
        case .q4_0: unpack(BlockQ4_0.self, w, rows: rows, prefetchLimit: prefetchLimit, prefetchDistance: max(0, prefetchDistance), into: tile)
        case .q4_1: unpack(BlockQ4_1.self, w, rows: rows, prefetchLimit: prefetchLimit, prefetchDistance: max(0, prefetchDistance), into: tile)
        case .q5_0: unpack(BlockQ5_0.self, w, rows: rows, prefetchLimit: prefetchLimit, prefetchDistance: max(0, prefetchDistance), into: tile)
        case .q5_1: unpack(BlockQ5_1.self, w, rows: rows, prefetchLimit: prefetchLimit, prefetchDistance: max(0, prefetchDistance), into: tile)
        case .q8_0: unpack(BlockQ8_0.self, w, rows: rows, prefetchLimit: prefetchLimit, prefetchDistance: max(0, prefetchDistance), into: tile)
        default: fatalError("IntegerLaneBatchKernel: no kernel for \(w.type)")
        }
    }

    @inline(__always)
    static func unpack<K: BatchIntegerBlock>(_: K.Type, _ w: WeightMatrix, rows: Range<Int>, prefetchLimit: Int, prefetchDistance distance: Int, into tile: UnsafeMutableRawPointer) {
        let n = w.columns
        let blocks = n / 32
        let codes = tile.bindMemory(to: Int16.self, capacity: rows.count * n)
        let scales = UnsafeMutableRawPointer(codes + rows.count * n).bindMemory(to: Float.self, capacity: 2 * rows.count * blocks)
        let offsets = scales + rows.count * blocks
        for (i, r) in rows.enumerated() {
            let row = w.row(r)
            w.prefetch(aheadOf: r, limit: prefetchLimit, distance: distance)
            unpackPairs(K.self, row, blocks: blocks, into: codes + i * n)
            for b in 0..<blocks {
                let p = row + K.bytes * b
                scales[i * blocks + b] = halfToFloat(p.loadUnaligned(as: UInt16.self))
                offsets[i * blocks + b] = K.batchHasOffset ? halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : 0
            }
        }
    }

    /// `y[t·ldy + firstRow + r] = Σ row r · token t (+ bias)` for the `rows` rows of the
    /// unpacked `tile` and the `tokens` tokens of the prepared activations `xp`.
    static func multiplyTile(
        _ tile: UnsafeRawPointer, rows: Int, columns n: Int, hasOffsets: Bool, _ xp: UnsafeRawPointer, tokens: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, bias: UnsafePointer<Float>?
    ) {
        let blocks = n / 32
        let codes = tile.assumingMemoryBound(to: Int16.self)
        let scales = UnsafeRawPointer(codes + rows * n).assumingMemoryBound(to: Float.self)
        let offsets = scales + rows * blocks
        let pairs = xp.assumingMemoryBound(to: SIMD16<Int16>.self)
        let xScales = UnsafeRawPointer(pairs + n / 2).assumingMemoryBound(to: SIMD8<Float>.self)
        let xSums = xScales + blocks
        var r0 = 0
        while r0 < rows {
            let count = min(rowBlock, rows - r0)
            let sums = block(codes + r0 * n, scales + r0 * blocks, hasOffsets ? offsets + r0 * blocks : nil,
                             rows: count, columns: n, pairs, xScales, xSums)
            withUnsafeBytes(of: sums) { raw in
                let out = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                for r in 0..<count {
                    let b = bias?[firstRow + r0 + r] ?? 0
                    for t in 0..<tokens { y[t * ldy + firstRow + r0 + r] = out[8 * r + t] + b }
                }
            }
            r0 += count
        }
    }

    typealias Sums = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                      SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// Up to 8 rows × the 8 lanes: one float vector of token sums per row.
    @inline(__always)
    static func block(
        _ codes: UnsafePointer<Int16>, _ wScales: UnsafePointer<Float>, _ wOffsets: UnsafePointer<Float>?,
        rows: Int, columns n: Int,
        _ pairs: UnsafePointer<SIMD16<Int16>>, _ xScales: UnsafePointer<SIMD8<Float>>, _ xSums: UnsafePointer<SIMD8<Float>>
    ) -> Sums {
        typealias F = SIMD8<Float>
        typealias I = SIMD8<Int32>
        let blocks = n / 32
        // Missing rows repeat the last real one (their results are not stored).
        @inline(__always) func rowIndex(_ i: Int) -> Int { min(i, rows - 1) }
        let w0 = UnsafeRawPointer(codes), w1 = w0 + 2 * n * rowIndex(1), w2 = w0 + 2 * n * rowIndex(2)
        let w3 = w0 + 2 * n * rowIndex(3), w4 = w0 + 2 * n * rowIndex(4), w5 = w0 + 2 * n * rowIndex(5)
        let w6 = w0 + 2 * n * rowIndex(6), w7 = w0 + 2 * n * rowIndex(7)
        var f0 = F(), f1 = F(), f2 = F(), f3 = F(), f4 = F(), f5 = F(), f6 = F(), f7 = F()
        for b in 0..<blocks {
            var a0 = I(), a1 = I(), a2 = I(), a3 = I(), a4 = I(), a5 = I(), a6 = I(), a7 = I()
            for p in (16 * b)..<(16 * b + 16) {
                let v = loadPair(pairs, p)
                a0 &+= pairProducts(v, broadcastPair(w0, p)); a1 &+= pairProducts(v, broadcastPair(w1, p))
                a2 &+= pairProducts(v, broadcastPair(w2, p)); a3 &+= pairProducts(v, broadcastPair(w3, p))
                a4 &+= pairProducts(v, broadcastPair(w4, p)); a5 &+= pairProducts(v, broadcastPair(w5, p))
                a6 &+= pairProducts(v, broadcastPair(w6, p)); a7 &+= pairProducts(v, broadcastPair(w7, p))
            }
            let d = UnsafeRawPointer(xScales + b).loadUnaligned(as: F.self)
            @inline(__always) func s(_ i: Int) -> F { F(repeating: wScales[blocks * rowIndex(i) + b]) * d }
            f0.addProduct(floats(a0), s(0)); f1.addProduct(floats(a1), s(1))
            f2.addProduct(floats(a2), s(2)); f3.addProduct(floats(a3), s(3))
            f4.addProduct(floats(a4), s(4)); f5.addProduct(floats(a5), s(5))
            f6.addProduct(floats(a6), s(6)); f7.addProduct(floats(a7), s(7))
            if let wOffsets {
                // Offset formats: + m·Σx of the block (Σx = d_x·Σ codes, prepared per token).
                let sx = UnsafeRawPointer(xSums + b).loadUnaligned(as: F.self)
                @inline(__always) func m(_ i: Int) -> F { F(repeating: wOffsets[blocks * rowIndex(i) + b]) }
                f0.addProduct(m(0), sx); f1.addProduct(m(1), sx); f2.addProduct(m(2), sx); f3.addProduct(m(3), sx)
                f4.addProduct(m(4), sx); f5.addProduct(m(5), sx); f6.addProduct(m(6), sx); f7.addProduct(m(7), sx)
            }
        }
        return (f0, f1, f2, f3, f4, f5, f6, f7)
    }
}
