#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

// The value half of attention: each output row is the probability-weighted sum of the
// value rows, continued tile after tile with the online-softmax rescale (see TiledAttention).

extension Attention {
    /// `o_j = α_j · o_j + Σ_p e_j[p] · value row p` for up to four rows `j` (`count`), over
    /// `positions` value rows at `values` (`valueStride` floats apart).
    ///
    /// Each output lane is one fused multiply-add per position, in position order, starting
    /// from `α_j · o_j` (from zero when `started` is false). So the result of a row does not
    /// depend on which other rows share the call, on how many positions past its own the
    /// call covers (their weights are zero, and `fma(0, v, a) = a`), or on the register
    /// blocking: 16 lanes at a time, four 16-lane chunks per pass where the vector registers
    /// hold 16 accumulators, and scalar lanes for a head size that is not a multiple of 16.
    ///
    /// - Parameters:
    ///   - e0, e1, e2, e3: the rows' weights, `positions` each (rows past `count` are read
    ///     but not stored).
    ///   - o0, o1, o2, o3: the rows' outputs, `headDim` floats each.
    @inline(__always)
    static func weightedValues(
        _ e0: UnsafePointer<Float>, _ e1: UnsafePointer<Float>, _ e2: UnsafePointer<Float>, _ e3: UnsafePointer<Float>,
        positions: Int, values: UnsafePointer<Float>, valueStride: Int, headDim: Int,
        outputs o0: UnsafeMutablePointer<Float>, _ o1: UnsafeMutablePointer<Float>,
        _ o2: UnsafeMutablePointer<Float>, _ o3: UnsafeMutablePointer<Float>,
        count: Int, alphas: SIMD4<Float>, started: Bool
    ) {
        // The starting sums: zero, or the stored outputs times their rescale factor.
        @inline(__always) func start(_ o: UnsafeMutablePointer<Float>, _ c: Int, _ j: Int) -> SIMD16<Float> {
            started && j < count ? VectorOps.load(o + c) * alphas[j] : SIMD16<Float>()
        }
        @inline(__always) func store(_ a: SIMD16<Float>, _ o: UnsafeMutablePointer<Float>, _ c: Int, _ j: Int) {
            if j < count { VectorOps.store(a, o + c) }
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
                        prefetchRows(v + Self.valueLead * valueStride, rows: 1, stride: valueStride, bytes: rowBytes)
                    }
                    let r0 = VectorOps.load(v), r1 = VectorOps.load(v + 16)
                    let r2 = VectorOps.load(v + 32), r3 = VectorOps.load(v + 48)
                    let b0 = SIMD16(repeating: e0[p]), b1 = SIMD16(repeating: e1[p])
                    let b2 = SIMD16(repeating: e2[p]), b3 = SIMD16(repeating: e3[p])
                    a00.addProduct(b0, r0); a01.addProduct(b0, r1); a02.addProduct(b0, r2); a03.addProduct(b0, r3)
                    a10.addProduct(b1, r0); a11.addProduct(b1, r1); a12.addProduct(b1, r2); a13.addProduct(b1, r3)
                    a20.addProduct(b2, r0); a21.addProduct(b2, r1); a22.addProduct(b2, r2); a23.addProduct(b2, r3)
                    a30.addProduct(b3, r0); a31.addProduct(b3, r1); a32.addProduct(b3, r2); a33.addProduct(b3, r3)
                    v += valueStride
                }
                store(a00, o0, c, 0); store(a01, o0, c + 16, 0); store(a02, o0, c + 32, 0); store(a03, o0, c + 48, 0)
                store(a10, o1, c, 1); store(a11, o1, c + 16, 1); store(a12, o1, c + 32, 1); store(a13, o1, c + 48, 1)
                store(a20, o2, c, 2); store(a21, o2, c + 16, 2); store(a22, o2, c + 32, 2); store(a23, o2, c + 48, 2)
                store(a30, o3, c, 3); store(a31, o3, c + 16, 3); store(a32, o3, c + 32, 3); store(a33, o3, c + 48, 3)
                c += 64
            }
        }
        while c + 16 <= headDim {
            var a0 = start(o0, c, 0), a1 = start(o1, c, 1), a2 = start(o2, c, 2), a3 = start(o3, c, 3)
            var v = values + c
            for p in 0..<positions {
                let row = VectorOps.load(v)
                a0.addProduct(SIMD16(repeating: e0[p]), row)
                a1.addProduct(SIMD16(repeating: e1[p]), row)
                a2.addProduct(SIMD16(repeating: e2[p]), row)
                a3.addProduct(SIMD16(repeating: e3[p]), row)
                v += valueStride
            }
            store(a0, o0, c, 0); store(a1, o1, c, 1); store(a2, o2, c, 2); store(a3, o3, c, 3)
            c += 16
        }
        // Scalar lanes (head sizes that are not a multiple of 16): the same fused
        // multiply-add per position.
        guard c < headDim else { return }
        let outputs = [o0, o1, o2, o3], weights = [e0, e1, e2, e3]
        while c < headDim {
            for j in 0..<count {
                var a: Float = started ? outputs[j][c] * alphas[j] : 0
                var v = values + c
                for p in 0..<positions {
                    a = a.addingProduct(weights[j][p], v.pointee)
                    v += valueStride
                }
                outputs[j][c] = a
            }
            c += 1
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
