// Small always-inlined load/store/convert helpers shared by the block-format kernels.
//
// Weight rows come straight from an mmap'ed GGUF file, so block fields sit at arbitrary
// byte offsets (an 18-byte Q4_0 block puts every other `d` at an odd 2-byte boundary):
// every load is unaligned. Activations are `Float` arrays, 4-byte aligned, which is less
// than a SIMD16<Float>'s natural 64, so those loads and stores are unaligned too.
//
// The block formats are little-endian on disk; all platforms Swift targets here (x86-64,
// arm64) are little-endian, so plain loads read them correctly.

/// Sixteen bytes at `base + offset`.
@inline(__always)
func loadBytes16(_ base: UnsafeRawPointer, _ offset: Int) -> SIMD16<UInt8> {
    base.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self)
}

/// A little-endian fp16 field at `base + offset`, as Float.
@inline(__always)
func loadHalf(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
    halfToFloat(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

/// Sixteen floats starting at `p`.
@inline(__always)
func loadFloats16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// Stores sixteen floats starting at `p`.
@inline(__always)
func storeFloats16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

// The lane conversions below are written as 16-iteration loops on purpose: the standard
// library's generic `SIMD16<Float>(_: SIMD16<some FixedWidthInteger>)` is not inlined into
// the kernels (it stays an out-of-line call with the vectors spilled around it), while these
// loops are fully unrolled and turned by LLVM into one widen + one convert instruction
// (`vpmovzxbd`/`vpmovsxbd` + `vcvtdq2ps` on x86-64).

/// Bytes read as unsigned integers 0...255 -> floats (zero-extend + convert).
@inline(__always)
func unsignedFloats(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(v[i]) }
    return r
}

/// Bytes read as two's-complement `Int8` -> floats (sign-extend + convert).
@inline(__always)
func signedFloats(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(Int8(bitPattern: v[i])) }
    return r
}

/// Eight unsigned bytes -> floats (used for the eight K-quant group scales).
@inline(__always)
func unsignedFloats(_ v: SIMD8<UInt8>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    for i in 0..<8 { r[i] = Float(v[i]) }
    return r
}

/// Sum of the sixteen lanes as a balanced tree (the standard library's `sum()` adds the
/// lanes one after another, sixteen dependent scalar adds).
@inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let s8 = v.lowHalf + v.highHalf
    let s4 = s8.lowHalf + s8.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return s2.x + s2.y
}

/// Fails loudly (in every build mode, unlike `precondition` under -Ounchecked) when a row
/// length is not a whole number of blocks; returns the number of blocks.
///
/// Row lengths come from tensor shapes that the GGUF reader has already checked, so this
/// is a programming error, not bad input — but reading a partial block would walk off the
/// end of the row, which must never happen silently.
@inline(__always)
func wholeBlocks(_ type: GGMLType, _ count: Int, blockSize: Int, _ caller: StaticString) -> Int {
    if count < 0 || count % blockSize != 0 {
        rowLengthFailure(type, count, caller)
    }
    return count / blockSize
}

@inline(never)
func rowLengthFailure(_ type: GGMLType, _ count: Int, _ caller: StaticString) -> Never {
    fatalError("RowKernels.\(caller): \(count) elements is not a whole number of \(type) blocks of \(type.blockSize)")
}
