// Scalar and vector conversions between Float and the two 16-bit float formats GGUF
// stores: IEEE binary16 ("half", ggml F16) and bfloat16 (ggml BF16).
//
// On every platform except Intel macOS, Swift's `Float16` lowers to the hardware
// conversion (F16C `vcvtph2ps`/`vcvtps2ph` on x86-64, `fcvt` on arm64), which is exact
// for half -> float and rounds to nearest even for float -> half — the same results as
// ggml, which uses the same instructions. `Float16` does not exist on Intel macOS, so
// there the portable bit-twiddling versions below are used; they are compiled (and
// tested against the hardware) on every platform.

/// Converts the bit pattern of an IEEE binary16 value to `Float`.
///
/// Exact for every input (each half is representable as a float), including subnormals,
/// infinities and NaNs (NaN payloads are kept, as the hardware conversion does).
///
/// ```swift
/// halfToFloat(0x3C00)   // 1.0
/// halfToFloat(0x0001)   // 5.96e-8, the smallest subnormal half
/// ```
@inlinable public func halfToFloat(_ bits: UInt16) -> Float {
    #if arch(x86_64) && os(macOS)
    return portableHalfToFloat(bits)
    #else
    return Float(Float16(bitPattern: bits))
    #endif
}

/// Converts a `Float` to the bit pattern of the nearest IEEE binary16 value.
///
/// Rounds to nearest, ties to even (like ggml's `GGML_FP32_TO_FP16`): values beyond the
/// half range become ±infinity, values below half the smallest subnormal become ±0, and
/// a NaN stays a quiet NaN with its sign and the top bits of its payload.
///
/// ```swift
/// floatToHalf(1.0)        // 0x3C00
/// floatToHalf(65520)      // 0x7C00 (+inf: the tie between 65504 and 65536 goes to even)
/// ```
@inlinable public func floatToHalf(_ value: Float) -> UInt16 {
    #if arch(x86_64) && os(macOS)
    return portableFloatToHalf(value)
    #else
    return Float16(value).bitPattern
    #endif
}

/// Converts the bit pattern of a bfloat16 value to `Float` (exact: bf16 is the top half
/// of a float).
///
/// ```swift
/// bf16ToFloat(0x3F80)   // 1.0
/// ```
@inlinable public func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Converts a `Float` to bfloat16 exactly as ggml does (`ggml_compute_fp32_to_bf16`):
/// round to nearest, ties to even on the dropped 16 bits; a NaN keeps its sign and top
/// payload bits and is forced quiet by setting bit 6 (`(bits >> 16) | 64`).
///
/// ```swift
/// floatToBF16(1.0)   // 0x3F80
/// ```
@inlinable public func floatToBF16(_ value: Float) -> UInt16 {
    let u = value.bitPattern
    if u & 0x7FFF_FFFF > 0x7F80_0000 {
        return UInt16(truncatingIfNeeded: u >> 16) | 64
    }
    // Adding 0x7FFF plus the lowest kept bit rounds half-way cases to the even neighbour.
    return UInt16(truncatingIfNeeded: (u &+ (0x7FFF &+ ((u >> 16) & 1))) >> 16)
}

// MARK: - Portable fallbacks (the only path on Intel macOS; tested everywhere)

/// Half -> float without `Float16`: the branch-free method of ggml's `ggml_compute_fp16_to_fp32`
/// (after Maratea's FP16 library). Normal halves are rebuilt by moving exponent and mantissa
/// into float position and rescaling by 2^-112; subnormals by the "magic bias" subtraction,
/// which is exact because the result has at most 10 significant bits.
@inlinable @inline(__always)
func portableHalfToFloat(_ bits: UInt16) -> Float {
    let w = UInt32(bits) << 16
    let sign = w & 0x8000_0000
    let twoW = w &+ w
    // Exponent offset 0xE0 << 23 moves the half exponent bias (15) to float's (127) minus 112;
    // the multiply by 2^-112 then fixes the scale and turns the all-ones exponent into inf/NaN.
    let normalized = Float(bitPattern: (twoW >> 4) &+ (0xE0 << 23)) * Float(bitPattern: 0x0780_0000)
    let denormalized = Float(bitPattern: (twoW >> 17) | (126 << 23)) - 0.5
    let magnitude = twoW < (1 << 27) ? denormalized.bitPattern : normalized.bitPattern
    return Float(bitPattern: sign | magnitude)
}

/// Float -> half without `Float16` (ggml's `ggml_compute_fp32_to_fp16`): the two scalings
/// by 2^112 and 2^-110 let the FPU's own round-to-nearest-even do the mantissa rounding,
/// including overflow to infinity and gradual underflow. NaNs are encoded the way the
/// hardware conversion does (quiet bit set, top 10 payload bits kept) so both paths agree.
@inlinable @inline(__always)
func portableFloatToHalf(_ value: Float) -> UInt16 {
    let w = value.bitPattern
    let shl1W = w &+ w
    let sign = UInt16(truncatingIfNeeded: (w & 0x8000_0000) >> 16)
    if shl1W > 0xFF00_0000 {
        return sign | 0x7E00 | UInt16(truncatingIfNeeded: (w >> 13) & 0x3FF)
    }
    var base = (abs(value) * Float(bitPattern: 0x7780_0000)) * Float(bitPattern: 0x0880_0000)
    var bias = shl1W & 0xFF00_0000
    if bias < 0x7100_0000 { bias = 0x7100_0000 }
    base = Float(bitPattern: (bias >> 1) &+ 0x0780_0000) + base
    let bits = base.bitPattern
    let expBits = (bits >> 13) & 0x0000_7C00
    let mantissaBits = bits & 0x0000_0FFF
    return sign | UInt16(truncatingIfNeeded: expBits &+ mantissaBits)
}

// MARK: - Vector conversions used by the row kernels

/// Sixteen halves (as bit patterns) -> sixteen floats, with one `vcvtph2ps` on x86-64.
@inline(__always)
func halvesToFloats(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
    #if arch(x86_64) && os(macOS)
    return portableHalvesToFloats(h)
    #else
    // A lane loop rather than the generic SIMD conversion initialiser, which is not inlined
    // (see the note in SIMDLoads.swift); LLVM turns this into a single `vcvtph2ps`.
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(Float16(bitPattern: h[i])) }
    return r
    #endif
}

/// Vector form of `portableHalfToFloat`, lane for lane the same arithmetic.
@inline(__always)
func portableHalvesToFloats(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
    var w = SIMD16<UInt32>()
    for i in 0..<16 { w[i] = UInt32(h[i]) << 16 }
    let sign = w & 0x8000_0000
    let twoW = w &+ w
    let normalized = unsafeBitCast((twoW &>> 4) &+ (0xE0 << 23), to: SIMD16<Float>.self)
        * Float(bitPattern: 0x0780_0000)
    let denormalized = unsafeBitCast((twoW &>> 17) | (126 << 23), to: SIMD16<Float>.self) - 0.5
    let magnitude = unsafeBitCast(normalized, to: SIMD16<UInt32>.self)
        .replacing(with: unsafeBitCast(denormalized, to: SIMD16<UInt32>.self), where: twoW .< (1 << 27))
    return unsafeBitCast(sign | magnitude, to: SIMD16<Float>.self)
}

/// Sixteen bfloat16 bit patterns -> sixteen floats (widen and shift into the top half).
@inline(__always)
func bf16sToFloats(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(bitPattern: UInt32(h[i]) << 16) }
    return r
}
