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

/// 32-bit integer lanes -> floats.
@inline(__always)
func floats(_ v: SIMD4<Int32>) -> SIMD4<Float> {
    var r = SIMD4<Float>()
    for i in 0..<4 { r[i] = Float(v[i]) }
    return r
}

/// 32-bit integer lanes -> floats.
@inline(__always)
func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    for i in 0..<8 { r[i] = Float(v[i]) }
    return r
}

/// Sum of four lanes as a balanced tree.
@inline(__always)
func horizontalSum(_ v: SIMD4<Float>) -> Float {
    (v[0] + v[1]) + (v[2] + v[3])
}

/// Sum of eight lanes as a balanced tree.
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let s4 = v.lowHalf + v.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return s2.x + s2.y
}

/// The eight little-endian fp16 fields at `base + offset ..< base + offset + 16`, as floats
/// (the block scales d and m sit at the start of every legacy block).
///
/// Written as a vector load + lane conversion so it compiles to one `vcvtph2ps` with a
/// memory operand. ``loadHalf`` compiles to `vpinsrw` into whatever register LLVM picks —
/// in these loops often the accumulator — which chained every block's scale load to the
/// previous block's FMA and made the integer kernels latency-bound (≈2× slower); a 32-bit
/// load of the pair, or a 4-lane version of this one, was narrowed back to that form when
/// only one half is used. Callers must have 16 readable bytes at `base + offset`.
@inline(__always)
func loadHalves8(_ base: UnsafeRawPointer, _ offset: Int) -> SIMD8<Float> {
    #if arch(x86_64) && os(macOS)
    return SIMD8((0..<8).map { halfToFloat(base.loadUnaligned(fromByteOffset: offset + 2 * $0, as: UInt16.self)) })
    #else
    let h = base.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self)
    var r = SIMD8<Float>()
    for i in 0..<8 { r[i] = Float(h[i]) }
    return r
    #endif
}

/// Eight fp16 bit patterns as floats (one `vcvtph2ps`).
@inline(__always)
func halvesToFloats(_ h: SIMD8<UInt16>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    #if arch(x86_64) && os(macOS)
    for i in 0..<8 { r[i] = halfToFloat(h[i]) }
    #else
    let f = unsafeBitCast(h, to: SIMD8<Float16>.self)
    for i in 0..<8 { r[i] = Float(f[i]) }
    #endif
    return r
}

/// The two fp16 halves of a 32-bit word (low half first) as floats.
@inline(__always)
func halfPairToFloats(_ bits: UInt32) -> SIMD2<Float> {
    #if arch(x86_64) && os(macOS)
    return SIMD2(halfToFloat(UInt16(truncatingIfNeeded: bits)), halfToFloat(UInt16(truncatingIfNeeded: bits >> 16)))
    #else
    let h = unsafeBitCast(bits, to: SIMD2<Float16>.self)
    var r = SIMD2<Float>()
    for i in 0..<2 { r[i] = Float(h[i]) }
    return r
    #endif
}
