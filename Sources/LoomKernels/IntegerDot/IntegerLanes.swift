// Lane helpers for the integer kernels. As in SIMDLoads.swift they are written as
// fixed-count lane loops, which LLVM turns into single widen/convert instructions
// (`vpmovzxbw`, `vpmovsxbw`, `vpmovsxwd` + `vcvtdq2ps`); the generic SIMD initialisers stay
// out-of-line calls.

/// Sixteen activation codes at `p`.
@inline(__always)
func loadCodes16(_ p: UnsafePointer<Int16>) -> SIMD16<Int16> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Int16>.self)
}

/// Bytes as unsigned 0...255 -> 16-bit lanes.
@inline(__always)
func widenUnsigned(_ v: SIMD16<UInt8>) -> SIMD16<Int16> {
    var r = SIMD16<Int16>()
    for i in 0..<16 { r[i] = Int16(v[i]) }
    return r
}

/// Bytes as two's-complement Int8 -> 16-bit lanes.
@inline(__always)
func widenSigned(_ v: SIMD16<UInt8>) -> SIMD16<Int16> {
    var r = SIMD16<Int16>()
    for i in 0..<16 { r[i] = Int16(Int8(bitPattern: v[i])) }
    return r
}

/// 16-bit lanes -> floats (sign-extend + convert).
@inline(__always)
func floats(_ v: SIMD16<Int16>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(Int32(v[i])) }
    return r
}

/// Sum of eight lanes as a balanced tree.
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let s4 = v.lowHalf + v.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return s2.x + s2.y
}

/// The two little-endian fp16 fields at `base + offset` and `base + offset + 2`, as floats.
///
/// One 4-byte load (`vmovss`, which zeroes the rest of the register) feeding the
/// conversion. ``loadHalf`` compiles to `vpinsrw` into whatever register LLVM picks — in
/// these loops often the accumulator — which chains every block's scale load to the
/// previous block's FMA and made the integer kernels latency-bound (≈2.5× slower).
@inline(__always)
func loadHalfPair(_ base: UnsafeRawPointer, _ offset: Int) -> SIMD2<Float> {
    let bits = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    #if arch(x86_64) && os(macOS)
    return SIMD2(halfToFloat(UInt16(truncatingIfNeeded: bits)), halfToFloat(UInt16(truncatingIfNeeded: bits >> 16)))
    #else
    let h = unsafeBitCast(bits, to: SIMD2<Float16>.self)
    var r = SIMD2<Float>()
    for i in 0..<2 { r[i] = Float(h[i]) }
    return r
    #endif
}
