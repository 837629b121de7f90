// The fifth bits of Q5_0/Q5_1 codes (`qh`, one bit per element in a 32-bit word) as byte
// lanes of 0 or 16, to be OR-ed into the low four bits.
//
// With AVX-512 (BW + VL) the word is used as it is, as a mask register: one `kmovd` and one
// zero-masked byte move (`loom_select_bytes32` of the header-only C target
// `LoomIntrinsics`; Swift's SIMD masks are vectors of full-width lanes and have no
// conversion from an integer's bits). Elsewhere the portable forms below: the word
// broadcast to every lane, a byte shuffle giving each lane the byte that holds its bit, and
// a compare against the lane's bit. On the Zen 4 here the portable form is about seven
// instructions per 32 lanes, and was the largest single cost of the Q5_0 decode kernel.
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

/// Whether ``fifthBitsOfWord(_:)`` and ``fifthBits(_:)`` use the mask-register select (a
/// compile-time constant).
@inline(__always)
var fifthBitsUseMaskRegister: Bool {
    #if canImport(LoomIntrinsics)
    return LOOM_HAS_BIT_SELECT != 0
    #else
    return false
    #endif
}

/// Bit i of `qh` as 0 or 16 in byte lane i, for elements 0..<16 (`low`) and 16..<32 (`high`).
@inline(__always)
func fifthBitsOfWord(_ qh: UInt32) -> (low: SIMD16<UInt8>, high: SIMD16<UInt8>) {
    #if canImport(LoomIntrinsics)
    if LOOM_HAS_BIT_SELECT != 0 {
        // A bit cast rather than `lowHalf`/`highHalf`: those stdlib getters stayed out-of-line
        // calls inside the large fused feed-forward loop.
        let r = unsafeBitCast(loom_select_bytes32(qh, SIMD32(repeating: 16), SIMD32()), to: (SIMD16<UInt8>, SIMD16<UInt8>).self)
        return (r.0, r.1)
    }
    #endif
    return portableFifthBitsOfWord(qh)
}

/// Bit i of the 16-bit `bits`, for lanes i = 0..<16, as 0 or 16.
@inline(__always)
func fifthBits(_ bits: UInt16) -> SIMD16<UInt8> {
    #if canImport(LoomIntrinsics)
    if LOOM_HAS_BIT_SELECT != 0 {
        return loom_select_bytes16(bits, SIMD16(repeating: 16), SIMD16())
    }
    #endif
    return portableFifthBits(bits)
}

/// ``fifthBitsOfWord(_:)`` in plain Swift: the word broadcast to all lanes, a constant byte
/// shuffle (`vpshufb`) giving lane i the byte holding its bit, and a test against the
/// lane's bit. (It replaced a multiply-based broadcast whose four scalar multiplies and
/// inserts per block dominated the integer Q5 loops.)
@inline(__always)
func portableFifthBitsOfWord(_ qh: UInt32) -> (low: SIMD16<UInt8>, high: SIMD16<UInt8>) {
    let bytes = unsafeBitCast(SIMD4<UInt32>(repeating: qh), to: SIMD16<UInt8>.self)
    var low = SIMD16<UInt8>(), high = SIMD16<UInt8>()
    for i in 0..<16 {
        low[i] = bytes[i / 8]
        high[i] = bytes[2 + i / 8]
    }
    let laneBit = SIMD16<UInt8>(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128)
    let lowSet = unsafeBitCast((low & laneBit) .== laneBit, to: SIMD16<UInt8>.self)
    let highSet = unsafeBitCast((high & laneBit) .== laneBit, to: SIMD16<UInt8>.self)
    return (lowSet & 16, highSet & 16)
}

/// ``fifthBits(_:)`` in plain Swift. Byte lanes hold the low byte of `bits` eight times,
/// then the high byte eight times; a lane is set when its own bit survives the mask
/// (`vpcmpeqb`/`cmeq`). This measured fastest among the Swift forms tried: 32-bit lanes
/// with `vpsrlvd` (wide ops are costly), an add-based "nonzero -> 16" trick,
/// `pointwiseMin`, and the generic `replacing(with:where:)`, which compiles to a per-lane
/// loop with branches.
@inline(__always)
func portableFifthBits(_ bits: UInt16) -> SIMD16<UInt8> {
    let lanes = unsafeBitCast(SIMD2<UInt64>(UInt64(bits & 0xFF) &* 0x0101_0101_0101_0101,
                                            UInt64(bits >> 8) &* 0x0101_0101_0101_0101), to: SIMD16<UInt8>.self)
    let laneBit = SIMD16<UInt8>(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128)
    // SIMDMask<SIMD16<Int8>> is a frozen wrapper around one SIMD16<Int8> of 0 / −1 lanes, so
    // its bits can be reused directly as a byte mask.
    let isSet = unsafeBitCast((lanes & laneBit) .== laneBit, to: SIMD16<UInt8>.self)
    return isSet & 16
}
