#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

/// The micro-kernel of batched matrix products (``MatMul`` with several tokens), in
/// "tokens in lanes" form: the activations of a batch are transposed once per product into
/// blocks of 8 or 16 tokens (``transpose(_:tokens:columns:lanes:into:)``), and a tile of
/// dequantised weight rows is multiplied with a block by broadcasting one weight at a time:
///
///     for k in columns: for r in rows: acc[r] += broadcast(W[r][k]) · Xᵀ[k][tokens]
///
/// Each accumulator holds one row's outputs for 8 or 16 tokens, so there is no horizontal
/// reduction at the end (the dot-product form of ``VectorOps/dot4x4`` spends ≈ 350
/// shuffles and adds per 4×4 call reducing its 16 accumulators, 10–20 % of the call for
/// 576-wide rows), and each multiply-add loads one 4-byte weight instead of half a 64-byte
/// vector (the dot form reads rows and activations as vectors: 8 vector loads per 16
/// multiply-adds, streamed from L2 for the large tiles of prompt processing).
///
/// Each output is Σₖ W[r][k]·x[t][k] summed in column order in one float lane (fused
/// multiply-adds), whatever the batch size or the token's position in it, so batched
/// outputs do not depend on how the tokens of a batch are grouped.
enum BatchMicroKernel {
    /// Rows per register block: 8 accumulators per lane vector.
    static let rowBlock = 8

    /// Lanes for a batch of `tokens` tokens: 8 for small batches, 16 otherwise where vectors
    /// are 512 bits wide. (``MatMul`` only sends batches of 16+ tokens here: at 8 tokens — a
    /// server decode step — the 8-lane version measured ≈ 9 % slower than the 4×4 dot form
    /// in a profile of `loom serve`.) With 256-bit vectors (AVX2) 16 lanes take two registers,
    /// and eight rows' accumulators (16 registers) plus the activations do not fit the 16
    /// vector registers: `perf annotate` of a Llama‑3‑8B-shaped F16 prompt showed accumulators
    /// spilled to the stack and reloaded every column. AVX2 takes 8 lanes (8 accumulators, one
    /// activation vector, one broadcast): 49–51 → 60–64 GFLOPS on one core for 1024×4096 F16
    /// weights times 512 tokens (BENCHMARKS.md). The lane count changes no output (one chain
    /// per output, see above).
    @inline(__always)
    static func lanes(tokens: Int) -> Int { tokens <= 8 || !hasWideVectors ? 8 : 16 }

    /// Whether the target has 512-bit vectors (32 registers of 16 floats).
    static var hasWideVectors: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_512_BIT_VECTORS != 0
        #else
        return false
        #endif
    }

    /// Floats ``transpose(_:tokens:columns:lanes:into:)`` writes.
    static func transposedCount(tokens: Int, columns: Int, lanes: Int) -> Int {
        (tokens + lanes - 1) / lanes * lanes * columns
    }

    /// `xt[(b·columns + k)·lanes + l] = x[(b·lanes + l)·columns + k]`, zero where token
    /// `b·lanes + l` does not exist.
    static func transpose(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, lanes: Int, into xt: UnsafeMutablePointer<Float>) {
        let blocks = (tokens + lanes - 1) / lanes
        for b in 0..<blocks {
            let block = xt + b * columns * lanes
            let real = min(lanes, tokens - b * lanes)
            if real < lanes { block.initialize(repeating: 0, count: columns * lanes) }
            for l in 0..<real {
                let src = x + (b * lanes + l) * columns
                var p = block + l
                for k in 0..<columns {
                    p.pointee = src[k]
                    p += lanes
                }
            }
        }
    }

    /// `y[t][firstRow + r] = Σₖ w[r·columns + k] · x[t][k]` for the `rows` (1…8) rows at `w`
    /// and the tokens `firstToken ..< firstToken + tokens` (at most `lanes`) of the
    /// transposed block at `xt`. (Two blocks per call, 16 accumulators, ran 2–3× slower:
    /// the eight row pointers and two block pointers no longer fit the general registers and
    /// were reloaded from the stack every column.)
    @inline(__always)
    static func multiply(
        _ w: UnsafePointer<Float>, rows: Int, columns: Int,
        _ xt: UnsafePointer<Float>, lanes: Int, tokens: Int,
        into y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, firstToken: Int
    ) {
        if lanes == 8 {
            block(SIMD8<Float>.self, w, rows: rows, columns: columns, xt, tokens: tokens, y, ldy, firstRow, firstToken)
        } else {
            block(SIMD16<Float>.self, w, rows: rows, columns: columns, xt, tokens: tokens, y, ldy, firstRow, firstToken)
        }
    }

    /// One lane vector of tokens × up to 8 rows.
    @inline(__always)
    static func block<L: SIMD>(
        _: L.Type, _ w: UnsafePointer<Float>, rows: Int, columns: Int,
        _ xt: UnsafePointer<Float>, tokens: Int,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ firstRow: Int, _ firstToken: Int
    ) where L.Scalar == Float {
        let n = columns
        // Missing rows repeat the last real one (their results are not stored).
        let w0 = w, w1 = w + min(1, rows - 1) * n, w2 = w + min(2, rows - 1) * n, w3 = w + min(3, rows - 1) * n
        let w4 = w + min(4, rows - 1) * n, w5 = w + min(5, rows - 1) * n, w6 = w + min(6, rows - 1) * n, w7 = w + min(7, rows - 1) * n
        var a0 = L(), a1 = L(), a2 = L(), a3 = L(), a4 = L(), a5 = L(), a6 = L(), a7 = L()
        var p = UnsafeRawPointer(xt)
        let step = MemoryLayout<L>.stride
        for k in 0..<n {
            let v = p.loadUnaligned(as: L.self)
            a0.addProduct(L(repeating: w0[k]), v)
            a1.addProduct(L(repeating: w1[k]), v)
            a2.addProduct(L(repeating: w2[k]), v)
            a3.addProduct(L(repeating: w3[k]), v)
            a4.addProduct(L(repeating: w4[k]), v)
            a5.addProduct(L(repeating: w5[k]), v)
            a6.addProduct(L(repeating: w6[k]), v)
            a7.addProduct(L(repeating: w7[k]), v)
            p += step
        }
        store((a0, a1, a2, a3, a4, a5, a6, a7), rows: rows, tokens: tokens, y, ldy, firstRow, firstToken)
    }

    /// Writes accumulator r's lane l to `y[(firstToken + l)·ldy + firstRow + r]` for the real
    /// rows and tokens.
    @inline(__always)
    static func store<L: SIMD>(
        _ a: (L, L, L, L, L, L, L, L), rows: Int, tokens: Int,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ firstRow: Int, _ firstToken: Int
    ) where L.Scalar == Float {
        let count = min(tokens, L.scalarCount)
        if count == L.scalarCount && rows == 8 {
            // A full block with constant lane indices (the general loop below extracts lanes
            // through the stack at computed offsets; ≈ 2.5 % of the kernel in a micro-benchmark).
            for l in 0..<L.scalarCount {
                let out = y + (firstToken + l) * ldy + firstRow
                UnsafeMutableRawPointer(out).storeBytes(
                    of: SIMD8<Float>(a.0[l], a.1[l], a.2[l], a.3[l], a.4[l], a.5[l], a.6[l], a.7[l]), as: SIMD8<Float>.self)
            }
            return
        }
        for l in 0..<count {
            let out = y + (firstToken + l) * ldy + firstRow
            if rows == 8 {
                UnsafeMutableRawPointer(out).storeBytes(
                    of: SIMD8<Float>(a.0[l], a.1[l], a.2[l], a.3[l], a.4[l], a.5[l], a.6[l], a.7[l]), as: SIMD8<Float>.self)
            } else {
                let v = SIMD8<Float>(a.0[l], a.1[l], a.2[l], a.3[l], a.4[l], a.5[l], a.6[l], a.7[l])
                for r in 0..<rows { out[r] = v[r] }
            }
        }
    }
}
