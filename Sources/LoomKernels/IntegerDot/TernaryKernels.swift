// Ternary weight rows (TQ1_0, TQ2_0) times 8-bit activations (``TernaryActivations``).
//
// Per 256-element block: Σ (u − 1)·x = Σ u·x − Σ x, with u ∈ {0, 1, 2} the stored codes and
// Σ x kept by the activations, so the weights go to an unsigned × signed byte multiply-add
// as they are (llama.cpp's approach; ggml-cpu arch/x86/quants.c `ggml_vec_dot_tq2_0_q8_K`).
// Eight of them (32 bytes each) per block add into 16-bit lanes (at most 8·2·2·127 = 4064,
// no overflow), which are widened once per block and scaled by d_w·d_x into float lanes.
// Four rows share each activation load (decode reads four rows at a time, as the byte-dot
// formats do), and every lane runs the same operations, so a row's value does not depend on
// the rows grouped with it.
//
// The byte multiply-add is `vpmaddubsw` on AVX2 (``NativeByteMadd``, a LoomIntrinsics
// intrinsic) and a lane loop elsewhere (``PortableByteMadd``); both give the same integers,
// and the tests check them against each other. The kernels are generic over
// ``TernaryBlock``, so the prompt kernel's unpacked tiles (``TernaryUnpackedBlock``) and a
// per-tensor-scale ternary layout run the same arithmetic: prompt outputs equal decode outputs.
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

/// A way to compute 16 lanes of u[2i]·s[2i] + u[2i+1]·s[2i+1] (unsigned × signed bytes).
protocol ByteMadd {
    static func madd(_ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD16<Int16>
}

/// `vpmaddubsw` where LoomIntrinsics has it (AVX2), else the portable loop.
enum NativeByteMadd: ByteMadd {
    @inline(__always) static func madd(_ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD16<Int16> {
        #if canImport(LoomIntrinsics)
        return loom_madd_unsigned_bytes(u, s)
        #else
        return PortableByteMadd.madd(u, s)
        #endif
    }
}

/// The multiply-add in plain Swift lanes (exact for the kernels' ranges, which never saturate).
enum PortableByteMadd: ByteMadd {
    @inline(__always) static func madd(_ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD16<Int16> {
        var r = SIMD16<Int16>()
        for i in 0..<16 {
            r[i] = Int16(truncatingIfNeeded: Int32(u[2 * i]) &* Int32(s[2 * i]) &+ Int32(u[2 * i + 1]) &* Int32(s[2 * i + 1]))
        }
        return r
    }
}

/// Ternary row kernels; see the file header.
public enum TernaryKernels {
    /// Whether `type` is a ternary format these kernels take.
    @inlinable public static func supports(_ type: GGMLType) -> Bool {
        type == .tq1_0 || type == .tq2_0
    }

    /// Whether the byte multiply-add is one instruction on this build (a compile-time constant).
    public static var isNative: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_UNSIGNED_BYTE_MADD != 0
        #else
        return false
        #endif
    }

    /// Σ row[i]·x̂[i] over the first `count` elements (a multiple of 256, at most
    /// `activations.count`) of a TQ1_0 or TQ2_0 row; x̂ the dequantised activations.
    /// `portable` forces the plain-Swift multiply-add (for tests; same result).
    public static func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ activations: TernaryActivations, count: Int, portable: Bool = false) -> Float {
        if count > activations.count { rowLengthFailure(type, count, "TernaryKernels.dot (longer than the activations)") }
        return dotFourRows(type, row, rowBytes: 0, activations.blocks, count: count, portable: portable)[0]
    }

    /// The dots of the four rows at `row + k·rowBytes` (k = 0..<4), one per lane; `rowBytes`
    /// = 0 gives one row the value it gets in any group of four.
    public static func dotFourRows(
        _ type: GGMLType, _ row: UnsafeRawPointer, rowBytes: Int, _ activations: TernaryActivations, count: Int, portable: Bool = false
    ) -> SIMD4<Float> {
        if count > activations.count { rowLengthFailure(type, count, "TernaryKernels.dotFourRows (longer than the activations)") }
        return dotFourRows(type, row, rowBytes: rowBytes, activations.blocks, count: count, portable: portable)
    }

    static func dotFourRows(
        _ type: GGMLType, _ row: UnsafeRawPointer, rowBytes: Int, _ a: TernaryActivationBlocks, count: Int, portable: Bool = false
    ) -> SIMD4<Float> {
        let blocks = wholeBlocks(type, count, blockSize: 256, "ternary dot")
        switch (type, portable) {
        case (.tq2_0, false): return ternaryDotFourRows(BlockTQ2_0.self, NativeByteMadd.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case (.tq1_0, false): return ternaryDotFourRows(BlockTQ1_0.self, NativeByteMadd.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case (.tq2_0, true): return ternaryDotFourRows(BlockTQ2_0.self, PortableByteMadd.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case (.tq1_0, true): return ternaryDotFourRows(BlockTQ1_0.self, PortableByteMadd.self, row, rowBytes: rowBytes, a, blocks: blocks)
        default: fatalError("TernaryKernels: \(type) is not a ternary format")
        }
    }

    /// Rows r..<r + count (count 1...4) of `w` in the first `count` lanes, always through the
    /// four-row kernel (fewer rows are taken from the group of four that ends with them, as
    /// ``MatMul/integerDots(_:_:count:_:limit:distance:)`` does), prefetching `distance` bytes
    /// ahead up to row `limit`.
    @inline(__always)
    static func decodeDots(_ w: WeightMatrix, _ r: Int, count: Int, _ a: TernaryActivationBlocks, limit: Int, distance: Int) -> SIMD4<Float> {
        if count == 4 {
            w.prefetch(aheadOf: r, rows: 4, limit: limit, distance: distance)
            return dotFourRows(w.type, w.row(r), rowBytes: w.rowBytes, a, count: w.columns)
        }
        var v = SIMD4<Float>()
        let first = r + count - 4
        if first >= 0 {
            let group = dotFourRows(w.type, w.row(first), rowBytes: w.rowBytes, a, count: w.columns)
            for k in 0..<count { v[k] = group[4 - count + k] }
        } else {
            for k in 0..<count { v[k] = dotFourRows(w.type, w.row(r + k), rowBytes: 0, a, count: w.columns)[0] }
        }
        return v
    }
}

/// Σ over blocks of d_w·d_x·Σ (u − 1)·x for four rows `rowBytes` apart (see the file header).
@inline(__always)
func ternaryDotFourRows<K: TernaryBlock, M: ByteMadd>(
    _: K.Type, _: M.Type, _ row: UnsafeRawPointer, rowBytes: Int, _ a: TernaryActivationBlocks, blocks: Int
) -> SIMD4<Float> {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    let p1 = row + rowBytes, p2 = row + 2 * rowBytes, p3 = row + 3 * rowBytes
    for b in 0..<blocks {
        let o = K.bytes * b
        let x = UnsafeRawPointer(a.codes + 256 * b)
        var s0 = SIMD16<Int16>(), s1 = SIMD16<Int16>(), s2 = SIMD16<Int16>(), s3 = SIMD16<Int16>()
        for c in 0..<8 {
            let xc = x.loadUnaligned(fromByteOffset: 32 * c, as: SIMD32<Int8>.self)
            s0 &+= M.madd(K.codes(row + o, chunk: c), xc)
            s1 &+= M.madd(K.codes(p1 + o, chunk: c), xc)
            s2 &+= M.madd(K.codes(p2 + o, chunk: c), xc)
            s3 &+= M.madd(K.codes(p3 + o, chunk: c), xc)
        }
        // − Σx (the −1 of every code) on lane 0, exactly in integers.
        let minusSum = SIMD8<Int32>(-a.sums[b], 0, 0, 0, 0, 0, 0, 0)
        let d = SIMD4<Float>(K.scale(row + o), K.scale(p1 + o), K.scale(p2 + o), K.scale(p3 + o)) * a.scales[b]
        acc0.addProduct(floats(widenPairs(s0) &+ minusSum), SIMD8(repeating: d[0]))
        acc1.addProduct(floats(widenPairs(s1) &+ minusSum), SIMD8(repeating: d[1]))
        acc2.addProduct(floats(widenPairs(s2) &+ minusSum), SIMD8(repeating: d[2]))
        acc3.addProduct(floats(widenPairs(s3) &+ minusSum), SIMD8(repeating: d[3]))
    }
    return horizontalSums(acc0, acc1, acc2, acc3)
}

/// Adjacent 16-bit lanes added into 32 bits (`vpmaddwd` with ones).
@inline(__always)
func widenPairs(_ s: SIMD16<Int16>) -> SIMD8<Int32> {
    pairProducts(s, SIMD16(repeating: 1))
}
