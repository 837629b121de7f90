#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

// Prompt attention, four query tokens at a time.
//
// With one (token, head) per job every query streams the whole cached key and value rows
// of its head: at 8k positions that is 4 MB per query, and attention took 90 % of a long
// prompt's time. Four consecutive tokens of the same head see the same keys (the last three
// see one, two and three more), so a job that takes four of them loads each key and value
// row once for all four: scores through the 4×4 register-blocked ``VectorOps/dot4x4(_:_:_:_:_:_:_:_:count:)``,
// weighted values with four accumulators per 16-lane chunk.

extension Attention {
    /// `q·k` with the arithmetic of one pair of ``VectorOps/dot4x4(_:_:_:_:_:_:_:_:count:)``
    /// and ``VectorOps/dot4(_:_:_:_:_:count:)`` (one 16-lane accumulator in order, then its
    /// sum). The single-token path uses it so that a token's attention is bit-identical
    /// whether it was evaluated alone or inside a four-token block: a repeated request that
    /// re-evaluates the end of its prompt must get exactly the logits of a fresh one.
    @inline(__always)
    static func score(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, headDim: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= headDim {
            acc.addProduct(VectorOps.load(k + i), VectorOps.load(q + i))
            i += 16
        }
        var s = acc.sum()
        while i < headDim { s += k[i] * q[i]; i += 1 }
        return s
    }

    /// One (token, head) job: scores of `query` against the first `positions` cached rows of
    /// its KV head (`keys`/`values`: that head's view), softmax, and the weighted sum of values
    /// into `output` (`headDim` floats). `scores` holds at least `positions` floats, `tile`
    /// ``tileRows`` × `headDim` for a non-float cache.
    public static func attendOne(
        query: UnsafePointer<Float>, keys: KVRows, values: KVRows,
        positions: Int, headDim: Int, scale: Float,
        scores: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        forEachTile(keys, positions: positions, headDim: headDim, tile: tile) { keys, kvStride, first, n in
            for p in 0..<n {
                scores[first + p] = score(query, keys + p * kvStride, headDim: headDim) * scale
            }
        }
        VectorOps.softmax(scores, count: positions)
        guard canBlock(headDim: headDim) else {
            output.initialize(repeating: 0, count: headDim)
            forEachTile(values, positions: positions, headDim: headDim, tile: tile) { values, kvStride, first, n in
                for p in 0..<n {
                    VectorOps.axpy(scores[first + p], values + p * kvStride, output, count: headDim)
                }
            }
            return
        }
        // The `axpy` per position above, with each 16-lane chunk of the sum kept in a
        // register over all positions of a tile (the same fused multiply-adds in the same
        // order; a later tile continues from the stored sums, which is exact).
        forEachTile(values, positions: positions, headDim: headDim, tile: tile) { values, kvStride, first, n in
            var c = 0
            while c < headDim {
                var a = first > 0 ? VectorOps.load(output + c) : SIMD16<Float>()
                var v = values + c
                for p in 0..<n {
                    a.addProduct(SIMD16(repeating: scores[first + p]), VectorOps.load(v))
                    v += kvStride
                }
                VectorOps.store(a, output + c)
                c += 16
            }
        }
    }

    /// Whether the four-token kernel applies (whole 16-lane chunks per head).
    static func canBlock(headDim: Int) -> Bool { headDim % 16 == 0 }

    /// Attention of the four consecutive query tokens starting at `query` (rows `rowStride`
    /// floats apart) for one head.
    ///
    /// - Parameters:
    ///   - keys, values: the head's view of the cached rows (its KV head's first element).
    ///   - visible: positions the first of the four tokens sees (its own included); token
    ///     `i` sees `visible + i`.
    ///   - scores: scratch of at least `4 × (visible + 3)` floats.
    ///   - tile: scratch of ``tileRows`` × `headDim` floats for a non-float cache.
    ///   - output: the first token's output row for this head, rows `rowStride` apart.
    @inline(__always)
    static func attendFourTokens(
        query: UnsafePointer<Float>, rowStride: Int,
        keys: KVRows, values: KVRows,
        visible: Int, headDim: Int, scale: Float,
        scores: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        let q0 = query, q1 = q0 + rowStride, q2 = q1 + rowStride, q3 = q2 + rowStride
        let n = visible + 3
        let s0 = scores, s1 = s0 + n, s2 = s1 + n, s3 = s2 + n
        forEachTile(keys, positions: n, headDim: headDim, tile: tile) { keys, kvStride, first, count in
            var p = 0
            while p + 4 <= count {
                let k = keys + p * kvStride
                let (r0, r1, r2, r3) = VectorOps.dot4x4(
                    k, k + kvStride, k + 2 * kvStride, k + 3 * kvStride, q0, q1, q2, q3, count: headDim)
                for j in 0..<4 {
                    let i = first + p + j
                    s0[i] = r0[j] * scale; s1[i] = r1[j] * scale
                    s2[i] = r2[j] * scale; s3[i] = r3[j] * scale
                }
                p += 4
            }
            while p < count {
                let r = VectorOps.dot4(q0, q1, q2, q3, keys + p * kvStride, count: headDim)
                let i = first + p
                s0[i] = r[0] * scale; s1[i] = r[1] * scale; s2[i] = r[2] * scale; s3[i] = r[3] * scale
                p += 1
            }
        }
        // Causal mask: token i sees visible + i positions; the rest weigh nothing.
        for i in 0..<4 {
            let row = scores + i * n
            VectorOps.softmax(row, count: visible + i)
            (row + visible + i).update(repeating: 0, count: 3 - i)
        }
        forEachTile(values, positions: n, headDim: headDim, tile: tile) { values, kvStride, first, count in
            weightedValues(UnsafePointer(s0 + first), UnsafePointer(s1 + first), UnsafePointer(s2 + first), UnsafePointer(s3 + first),
                           positions: count, values: values, kvStride: kvStride, headDim: headDim,
                           output: output, outputStride: rowStride, count: 4, accumulate: first > 0)
        }
    }

    /// `output_j = Σ_p s_j[p] · value row p` for the four score rows `s0…s3` (`positions`
    /// each) over the value rows at `values` (`kvStride` floats apart), 16 lanes at a time with
    /// one register accumulator per score row, one fused multiply-add per position in order
    /// (the arithmetic of an `axpy` per position). Stores the first `count` outputs, rows
    /// `outputStride` floats apart. With `accumulate` the sums start from those outputs (the
    /// previous tile's), which continues the same sequence of multiply-adds exactly.
    @inline(__always)
    static func weightedValues(
        _ s0: UnsafePointer<Float>, _ s1: UnsafePointer<Float>, _ s2: UnsafePointer<Float>, _ s3: UnsafePointer<Float>,
        positions: Int, values: UnsafePointer<Float>, kvStride: Int, headDim: Int,
        output: UnsafeMutablePointer<Float>, outputStride: Int, count: Int, accumulate: Bool = false
    ) {
        let o0 = output, o1 = o0 + outputStride, o2 = o1 + outputStride, o3 = o2 + outputStride
        // The starting sums: zero, or the stored outputs (rows past `count` are not outputs).
        @inline(__always) func start(_ o: UnsafeMutablePointer<Float>, _ c: Int, _ j: Int) -> SIMD16<Float> {
            accumulate && j < count ? VectorOps.load(o + c) : SIMD16<Float>()
        }
        var c = 0
        // Four 16-lane chunks (a 64-float head) per pass where the registers hold 16
        // accumulators: each value row is read once, as whole cache lines, instead of once per
        // chunk, and the rows `valueLead` positions ahead are asked for.
        if Self.wideValuePasses {
            let rowBytes = headDim * MemoryLayout<Float>.stride
            while c + 64 <= headDim {
                var a00 = start(o0, c, 0), a01 = start(o0, c + 16, 0), a02 = start(o0, c + 32, 0), a03 = start(o0, c + 48, 0)
                var a10 = start(o1, c, 1), a11 = start(o1, c + 16, 1), a12 = start(o1, c + 32, 1), a13 = start(o1, c + 48, 1)
                var a20 = start(o2, c, 2), a21 = start(o2, c + 16, 2), a22 = start(o2, c + 32, 2), a23 = start(o2, c + 48, 2)
                var a30 = start(o3, c, 3), a31 = start(o3, c + 16, 3), a32 = start(o3, c + 32, 3), a33 = start(o3, c + 48, 3)
                var v = values + c
                for p in 0..<positions {
                    if c == 0 && p + Self.valueLead < positions {
                        prefetchRows(v + Self.valueLead * kvStride, rows: 1, stride: kvStride, bytes: rowBytes)
                    }
                    let r0 = VectorOps.load(v), r1 = VectorOps.load(v + 16)
                    let r2 = VectorOps.load(v + 32), r3 = VectorOps.load(v + 48)
                    let b0 = SIMD16(repeating: s0[p]), b1 = SIMD16(repeating: s1[p])
                    let b2 = SIMD16(repeating: s2[p]), b3 = SIMD16(repeating: s3[p])
                    a00.addProduct(b0, r0); a01.addProduct(b0, r1); a02.addProduct(b0, r2); a03.addProduct(b0, r3)
                    a10.addProduct(b1, r0); a11.addProduct(b1, r1); a12.addProduct(b1, r2); a13.addProduct(b1, r3)
                    a20.addProduct(b2, r0); a21.addProduct(b2, r1); a22.addProduct(b2, r2); a23.addProduct(b2, r3)
                    a30.addProduct(b3, r0); a31.addProduct(b3, r1); a32.addProduct(b3, r2); a33.addProduct(b3, r3)
                    v += kvStride
                }
                VectorOps.store(a00, o0 + c); VectorOps.store(a01, o0 + c + 16)
                VectorOps.store(a02, o0 + c + 32); VectorOps.store(a03, o0 + c + 48)
                if count > 1 {
                    VectorOps.store(a10, o1 + c); VectorOps.store(a11, o1 + c + 16)
                    VectorOps.store(a12, o1 + c + 32); VectorOps.store(a13, o1 + c + 48)
                }
                if count > 2 {
                    VectorOps.store(a20, o2 + c); VectorOps.store(a21, o2 + c + 16)
                    VectorOps.store(a22, o2 + c + 32); VectorOps.store(a23, o2 + c + 48)
                }
                if count > 3 {
                    VectorOps.store(a30, o3 + c); VectorOps.store(a31, o3 + c + 16)
                    VectorOps.store(a32, o3 + c + 32); VectorOps.store(a33, o3 + c + 48)
                }
                c += 64
            }
        }
        while c < headDim {
            var a0 = start(o0, c, 0), a1 = start(o1, c, 1), a2 = start(o2, c, 2), a3 = start(o3, c, 3)
            var v = values + c
            for p in 0..<positions {
                let row = VectorOps.load(v)
                a0.addProduct(SIMD16(repeating: s0[p]), row)
                a1.addProduct(SIMD16(repeating: s1[p]), row)
                a2.addProduct(SIMD16(repeating: s2[p]), row)
                a3.addProduct(SIMD16(repeating: s3[p]), row)
                v += kvStride
            }
            VectorOps.store(a0, o0 + c)
            if count > 1 { VectorOps.store(a1, o1 + c) }
            if count > 2 { VectorOps.store(a2, o2 + c) }
            if count > 3 { VectorOps.store(a3, o3 + c) }
            c += 16
        }
    }

    /// Whether ``weightedValues`` takes four 16-lane chunks per pass: its 16 accumulators
    /// and 8 operands fit in AVX-512's 32 vector registers, not in AVX2's 16 or NEON's 32
    /// 128-bit ones (where a 16-lane vector takes 2 or 4). Measured slightly faster in
    /// long-context decode on Zen 4 (BENCHMARKS.md, "Kernel design measurements").
    static var wideValuePasses: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_512_BIT_VECTORS != 0
        #else
        return false
        #endif
    }

    /// Positions ahead of the current one whose key and value rows decode attention asks
    /// for. The rows of one KV head are `kvStride` floats apart, a stride the hardware
    /// prefetcher follows only a little way; asking ahead measured clearly faster at 1024
    /// cached positions (4, 16 and 32 positions ahead measured the same as 8; BENCHMARKS.md,
    /// "Kernel design measurements").
    static let keyLead = 8
    static let valueLead = 8
}

/// Asks for `bytes` bytes of each of `rows` rows starting at `first`, `stride` floats apart.
@inline(__always)
func prefetchRows(_ first: UnsafePointer<Float>, rows: Int, stride: Int, bytes: Int) {
    for r in 0..<rows { prefetchLines(UnsafeRawPointer(first + r * stride), bytes: bytes) }
}
