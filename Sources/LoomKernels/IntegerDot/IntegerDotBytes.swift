// Q4_0 decode rows with the unsigned×signed byte dot `vpdpbusd` (`loom_dot_bytes` of
// LoomIntrinsics; AVX-512 VNNI or AVX-VNNI) on the same 10-bit activation codes as
// ``pairwiseDot(_:_:_:blocks:)``: the same integer per block, float rounding aside.
//
// The byte dot multiplies 32 byte pairs per instruction (twice `vpdpwssd`), but one side
// must be unsigned and both are bytes. So the weight codes are fed unsigned (Q4_0's stored
// nibbles are q + 8), and each 10-bit activation code x = 4·h + l comes as two byte planes of the activations
// (``QuantizedActivations/highCodes``, ``QuantizedActivations/lowCodes``): the block's sum is
// 4·dot(u, h) + dot(u, l), two byte dots with a shift between them. The integer per block
// is Σ (q + o)·x − o·Σx, the integer of the 16-bit kernel; each block's 8 integer lanes are
// converted and scaled into float accumulators, and o·d·(d_x·Σx) is taken off per 4 blocks.
//
// One core, 64 rows of 4096 in L2 (scripts/bench_row_kernels.swift), ns per row, three runs:
// Q4_0 133 / 133 / 133 against the 16-bit kernel's 184 / 184 / 183 (1.38×). The same kernel for
// Q8_0 (codes + 128 by flipping the top bit) measured 139–140 against 154 (1.10×): below the
// 1.3× the project asks of a C intrinsic, so Q8_0 keeps the 16-bit kernel.
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

/// Where the byte-dot decode kernels are used.
enum IntegerDotBytes {
    /// Whether the byte dot is one instruction on this build (a compile-time constant). Where
    /// it is not, Q4_0 keeps the 16-bit kernel, and the activations skip the split.
    static var isNative: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_BYTE_DOT != 0
        #else
        return false
        #endif
    }
}

/// A 32-element ``PairwiseIntegerBlock`` whose codes can be fed to the byte dot as unsigned
/// bytes q + ``byteOffset``.
protocol ByteDotBlock: PairwiseIntegerBlock {
    static var byteOffset: Int32 { get }
    /// The block's 32 codes plus ``byteOffset``, as unsigned bytes in element order.
    static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8>
}

extension BlockQ4_0: ByteDotBlock {
    static var byteOffset: Int32 { 8 }
    @inline(__always)
    static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> {
        let qs = loadBytes16(p, 2)
        #if canImport(LoomIntrinsics)
        if LOOM_HAS_BYTE_AFFINE != 0 {
            // The 16 bytes in both halves (a broadcast load), then one affine byte map whose
            // GF(2) matrix (per 64-bit lane; byte 7 − i selects the input bits of output bit
            // i) keeps the low nibble in the lower half and moves the high nibble down in the
            // upper: one instruction for 32 codes, where mask, shift and insert are three.
            let matrices = SIMD4<UInt64>(0x0102_0408_0000_0000, 0x0102_0408_0000_0000, 0x1020_4080_0000_0000, 0x1020_4080_0000_0000)
            return loom_affine_bytes32(unsafeBitCast((qs, qs), to: SIMD32<UInt8>.self), unsafeBitCast(matrices, to: SIMD32<UInt8>.self))
        }
        #endif
        return unsafeBitCast((qs & 0x0F, qs &>> 4), to: SIMD32<UInt8>.self)
    }
}

/// Σ_blocks d·(d_x·Σ (q + o)·x − o·d_x·Σx) over a row. Each block's integer vector is
/// converted and scaled into 8-lane float accumulators (no per-block horizontal sum); the
/// offset terms o·d·(d_x·Σx) are taken off four blocks at a time as one 4-lane product.
@inline(__always)
func byteDotRow<K: ByteDotBlock>(_: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var offsets = SIMD4<Float>()
    var b = 0
    while b + 4 <= blocks {
        let p = row + K.bytes * b
        let d = loadHalves4(p, stride: K.bytes, offset: 0)
        offsets.addProduct(d, UnsafeRawPointer(a.sums + b).loadUnaligned(as: SIMD4<Float>.self))
        let scales = d * UnsafeRawPointer(a.scales + b).loadUnaligned(as: SIMD4<Float>.self)
        acc0.addProduct(floats(byteBlockSum(K.self, p, a, b)), SIMD8(repeating: scales[0]))
        acc1.addProduct(floats(byteBlockSum(K.self, p + K.bytes, a, b + 1)), SIMD8(repeating: scales[1]))
        acc2.addProduct(floats(byteBlockSum(K.self, p + 2 * K.bytes, a, b + 2)), SIMD8(repeating: scales[2]))
        acc3.addProduct(floats(byteBlockSum(K.self, p + 3 * K.bytes, a, b + 3)), SIMD8(repeating: scales[3]))
        b += 4
    }
    var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3)) - Float(K.byteOffset) * horizontalSum(offsets)
    while b < blocks {
        sum += pairwiseStep(K.self, row, a, b)
        b += 1
    }
    return sum
}

/// Σ (q + o)·x over block `b`, spread over 8 lanes: 4·dot(u, h) + dot(u, l).
@inline(__always)
func byteBlockSum<K: ByteDotBlock>(_: K.Type, _ p: UnsafeRawPointer, _ a: ActivationBlocks, _ b: Int) -> SIMD8<Int32> {
    let u = K.unsignedCodes(p)
    let high = UnsafeRawPointer(a.highCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
    let low = UnsafeRawPointer(a.lowCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
    return byteDot32(byteDot32(SIMD8<Int32>(), u, high) &<< 2, u, low)
}

/// acc + the byte dot of `u` and `s` (see `loom_dot_bytes`).
@inline(__always)
func byteDot32(_ acc: SIMD8<Int32>, _ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD8<Int32> {
    #if canImport(LoomIntrinsics)
    return loom_dot_bytes(acc, u, s)
    #else
    return portableByteDot32(acc, u, s)
    #endif
}

/// ``byteDot32(_:_:_:)`` in plain Swift (the same integers).
@inline(__always)
func portableByteDot32(_ acc: SIMD8<Int32>, _ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD8<Int32> {
    var r = acc
    for i in 0..<8 {
        var t: Int32 = 0
        for k in 0..<4 { t &+= Int32(u[4 * i + k]) &* Int32(s[4 * i + k]) }
        r[i] &+= t
    }
    return r
}
