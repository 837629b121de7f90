#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

// Decode four consecutive weight rows at once with the byte dot (``byteDotRow``'s
// arithmetic, IntegerDotBytes.swift), for the matrix-vector products of a decode step.
//
// One row at a time, every block costs two 32-byte activation loads (the code planes), a
// scale load, and per row the horizontal sum and a scalar tail for the last `blocks % 4`
// blocks, which on SmolLM2's rows of 576 (18 blocks) is 2 of every 18. Four rows share the
// activation loads and the activation scale, gather their four d (and m) with one
// conversion, need no tail (the four rows already give four independent accumulators), and
// reduce four accumulators together at the end.
//
// Four rows measured about twice as fast per row in L2 as the byte row kernel, and clearly
// faster streaming rows from DRAM with the decode prefetch (scripts/bench_row_kernels.swift;
// BENCHMARKS.md, "Kernel design measurements").

/// Σ over blocks of (d·d_x·Σ u·x + c·d_x·Σx) for the four rows at `row`, `row + rowBytes`,
/// `row + 2·rowBytes`, `row + 3·rowBytes`: the same integers as ``byteDotRow(_:_:_:blocks:)``
/// on each row, float rounding aside (the sums are added in another order).
@inline(__always)
func byteDotFourRows<K: ByteDotBlock>(
    _: K.Type, _ row: UnsafeRawPointer, rowBytes: Int, _ a: ActivationBlocks, blocks: Int
) -> SIMD4<Float> {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var biases = SIMD4<Float>()
    let mask = K.wordMask(a)
    for b in 0..<blocks {
        let p = row + K.bytes * b
        let (d, c) = scalesAndBiases(K.self, p, stride: rowBytes, mask)
        biases.addProduct(c, SIMD4(repeating: a.sums[b]))
        let scales = d * a.scales[b]
        let high = UnsafeRawPointer(a.highCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
        let low = UnsafeRawPointer(a.lowCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
        acc0.addProduct(floats(splitCodeDot(K.unsignedCodes(p), high, low)), SIMD8(repeating: scales[0]))
        acc1.addProduct(floats(splitCodeDot(K.unsignedCodes(p + rowBytes), high, low)), SIMD8(repeating: scales[1]))
        acc2.addProduct(floats(splitCodeDot(K.unsignedCodes(p + 2 * rowBytes), high, low)), SIMD8(repeating: scales[2]))
        acc3.addProduct(floats(splitCodeDot(K.unsignedCodes(p + 3 * rowBytes), high, low)), SIMD8(repeating: scales[3]))
    }
    return horizontalSums(acc0, acc1, acc2, acc3) + biases
}

/// Σ u·x for 32 unsigned codes u ≤ 31 and the activation codes x = 4·high + low, spread
/// over 8 lanes (lane i: elements 4i..<4i + 4): two byte dots and a shift where the byte dot
/// is native, else ``maddSplitCodeDot(_:_:_:)`` where AVX2 has `vpmaddubsw` (the same integers).
@inline(__always)
func splitCodeDot(_ u: SIMD32<UInt8>, _ high: SIMD32<Int8>, _ low: SIMD32<Int8>) -> SIMD8<Int32> {
    #if canImport(LoomIntrinsics)
    if LOOM_HAS_BYTE_DOT == 0 && LOOM_HAS_UNSIGNED_BYTE_MADD != 0 { return maddSplitCodeDot(u, high, low) }
    #endif
    return byteDot32(byteDot32(SIMD8<Int32>(), u, high) &<< 2, u, low)
}

/// ``splitCodeDot(_:_:_:)`` from 16-bit pair sums, as llama.cpp's AVX2 kernels multiply
/// bytes (`vpmaddubsw`, then `vpmaddwd` by ones; ggml-cpu arch/x86/quants.c, `mul_sum_us8_pairs_float`):
/// t = 4·madd(u, high) + madd(u, low) per pair, then adjacent pairs summed into 32 bits. Lane
/// i gets 4·Σ u·high + Σ u·low over elements 4i..<4i + 4, the very integer of the byte-dot form.
/// Exact for u ≤ 31: |4·(u·high + u·high')| ≤ 4·2·31·128 = 31744 and u·low + u·low' ≤ 186, so
/// neither the saturating multiply-add nor the 16-bit sum overflows (5-bit codes; 6- and
/// 8-bit codes would).
@inline(__always)
func maddSplitCodeDot(_ u: SIMD32<UInt8>, _ high: SIMD32<Int8>, _ low: SIMD32<Int8>) -> SIMD8<Int32> {
    let t = (NativeByteMadd.madd(u, high) &<< 2) &+ NativeByteMadd.madd(u, low)
    return pairSums(t, SIMD16(repeating: 1))
}

/// The lane sums of four 8-lane vectors, as one vector: halves added pairwise, so the last
/// steps work on all four at once.
@inline(__always)
func horizontalSums(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>, _ v3: SIMD8<Float>) -> SIMD4<Float> {
    let s0 = v0.lowHalf + v0.highHalf, s1 = v1.lowHalf + v1.highHalf
    let s2 = v2.lowHalf + v2.highHalf, s3 = v3.lowHalf + v3.highHalf
    // Transpose-and-add: lanes (0,1) and (2,3) of each, then the pairs.
    let t01 = SIMD4(s0[0], s1[0], s0[2], s1[2]) + SIMD4(s0[1], s1[1], s0[3], s1[3])
    let t23 = SIMD4(s2[0], s3[0], s2[2], s3[2]) + SIMD4(s2[1], s3[1], s2[3], s3[3])
    return SIMD4(t01[0], t01[1], t23[0], t23[1]) + SIMD4(t01[2], t01[3], t23[2], t23[3])
}
