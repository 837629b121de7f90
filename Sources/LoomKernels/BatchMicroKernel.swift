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
    /// Rows per register block for blocks of `lanes` tokens: 8 accumulators of one lane
    /// vector each, or on 256-bit vectors (AVX2) with 16 lanes 6 rows × two registers (see
    /// ``lanes(tokens:)``).
    @inline(__always)
    static func rowBlock(lanes: Int) -> Int { lanes == 16 && !hasWideVectors ? 6 : 8 }

    /// Lanes for a batch of `tokens` tokens: 8 for small batches, 16 otherwise. (``MatMul``
    /// only sends batches of 16+ tokens here: at 8 tokens — a server decode step — the 8-lane
    /// version measured ≈ 9 % slower than the 4×4 dot form in a profile of `loom serve`.)
    ///
    /// With 512-bit vectors 16 lanes are one register and a block is 8 rows. With 256-bit
    /// vectors (AVX2: 16 registers) 16 lanes take two registers: eight rows' accumulators
    /// (16 registers) plus the activations spilled to the stack every column (`perf
    /// annotate` of a Llama‑3‑8B-shaped F16 prompt), and 8 rows × 8 lanes (9 loads — one
    /// activation vector and eight broadcasts — per 8 multiply-adds) was bound by the load
    /// ports at ≈ 62 % of the FMA peak. AVX2 takes 6 rows × 16 lanes, BLIS's Haswell block
    /// (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
    /// Functionality", 2015; `bli_gemm_haswell_asm_6x16`): 12 accumulators, two activation
    /// vectors and a broadcast in 15 of the 16 registers, 8 loads per 12 multiply-adds.
    /// No block shape changes an output (one chain per output, see above).
    @inline(__always)
    static func lanes(tokens: Int) -> Int { tokens <= 8 ? 8 : 16 }

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

    /// `y[t][firstRow + r] = Σₖ w[r·columns + k] · x[t][k]` for the `rows` (1…``rowBlock(lanes:)``) rows at `w`
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
        } else if hasWideVectors {
            block(SIMD16<Float>.self, w, rows: rows, columns: columns, xt, tokens: tokens, y, ldy, firstRow, firstToken)
        } else if rows > 4 {
            sixRowBlock(blockRows: 6, w, rows: rows, columns: columns, xt, tokens: tokens, y, ldy, firstRow, firstToken)
        } else {
            sixRowBlock(blockRows: 4, w, rows: rows, columns: columns, xt, tokens: tokens, y, ldy, firstRow, firstToken)
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

    /// 16 lanes of tokens (two 256-bit registers) × up to 6 rows, for targets without
    /// 512-bit vectors (see ``lanes(tokens:)``). `blockRows` is a constant at each call site
    /// (6, or 4 for the last rows of a 16-row tile: 6 + 6 + 4), so the accumulators of rows
    /// past it are dead code; rows past `rows` repeat the last real one and are not stored.
    @inline(__always)
    static func sixRowBlock(
        blockRows: Int, _ w: UnsafePointer<Float>, rows: Int, columns: Int,
        _ xt: UnsafePointer<Float>, tokens: Int,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ firstRow: Int, _ firstToken: Int
    ) {
        typealias L = SIMD8<Float>
        let n = columns
        let w0 = w, w1 = w + min(1, rows - 1) * n, w2 = w + min(2, rows - 1) * n, w3 = w + min(3, rows - 1) * n
        let w4 = w + min(4, rows - 1) * n, w5 = w + min(5, rows - 1) * n
        var a0 = L(), a1 = L(), a2 = L(), a3 = L(), a4 = L(), a5 = L()
        var b0 = L(), b1 = L(), b2 = L(), b3 = L(), b4 = L(), b5 = L()
        var p = UnsafeRawPointer(xt)
        for k in 0..<n {
            let u = p.loadUnaligned(as: L.self)
            let v = p.loadUnaligned(fromByteOffset: 32, as: L.self)
            var s = L(repeating: w0[k]); a0.addProduct(s, u); b0.addProduct(s, v)
            s = L(repeating: w1[k]); a1.addProduct(s, u); b1.addProduct(s, v)
            s = L(repeating: w2[k]); a2.addProduct(s, u); b2.addProduct(s, v)
            s = L(repeating: w3[k]); a3.addProduct(s, u); b3.addProduct(s, v)
            if blockRows > 4 {
                s = L(repeating: w4[k]); a4.addProduct(s, u); b4.addProduct(s, v)
                s = L(repeating: w5[k]); a5.addProduct(s, u); b5.addProduct(s, v)
            }
            p += 64
        }
        // Lane l of (aᵣ, bᵣ) is token l (a) or 8 + l (b) of row r.
        let count = min(tokens, 16)
        let outputs = rows
        withUnsafeTemporaryAllocation(of: L.self, capacity: 12) { buffer in
            buffer[0] = a0; buffer[1] = b0; buffer[2] = a1; buffer[3] = b1; buffer[4] = a2; buffer[5] = b2
            buffer[6] = a3; buffer[7] = b3; buffer[8] = a4; buffer[9] = b4; buffer[10] = a5; buffer[11] = b5
            let lanesOf = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: Float.self)
            for l in 0..<count {
                let out = y + (firstToken + l) * ldy + firstRow
                for r in 0..<outputs { out[r] = lanesOf[r * 16 + l] }
            }
        }
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
