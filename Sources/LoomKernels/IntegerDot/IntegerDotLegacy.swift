// Integer row·activation kernels for the 32-element block formats with an offset (Q4_1,
// Q5_1) against ``QuantizedActivations``; the generic step below also handles formats
// without one.
//
// Per block: weight codes are unpacked to bytes, widened to 16-bit lanes and multiplied
// lane-wise with the 16-bit activation codes (`vpmullw`); the two 16-element halves are
// added in 16 bits (worst case 2·31·511 = 31682 for Q5_1, so no overflow), converted to
// float once and scaled by d_w·d_x with one fused multiply-add. Formats with an offset m
// add m·(d_x·Σcodes_x), the block sum kept by the activations. Two blocks are in flight
// per iteration with separate accumulators, so the loop is not bound by FMA latency.

/// Pointers into a ``QuantizedActivations`` starting at some block.
struct ActivationBlocks {
    let codes: UnsafePointer<Int16>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>
    let codeSums: UnsafePointer<Int32>
    let highCodes: UnsafePointer<Int8>
    let lowCodes: UnsafePointer<Int8>
    /// 0x0000FFFF, read from memory so the optimiser cannot fold it (see `legacyIntegerDot`).
    let lowHalfMask: UInt32

    init(_ a: QuantizedActivations, block: Int = 0) {
        lowHalfMask = a.lowHalfMask
        codes = UnsafePointer(a.codes + 32 * block)
        scales = UnsafePointer(a.scales + block)
        sums = UnsafePointer(a.sums + block)
        codeSums = UnsafePointer(a.codeSums + block)
        highCodes = UnsafePointer(a.highCodes + 32 * block)
        lowCodes = UnsafePointer(a.lowCodes + 32 * block)
    }
}

/// A 32-element block format for ``legacyIntegerDot(_:_:_:blocks:)``: `half d` at byte 0,
/// `half m` at byte 2 when ``hasOffset`` (value = q·d + m), else value = q·d with signed q.
protocol LegacyIntegerBlock {
    static var bytes: Int { get }
    static var hasOffset: Bool { get }
    /// The block's codes times the activation codes at `x`, elements j and j + 16 added in
    /// lane j (they share the block scale, and the sum fits in 16 bits).
    static func products(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> SIMD16<Int16>
}

/// Σ w·x̂ over `blocks` blocks of `K`: per block one float conversion of the 16-bit
/// partial sums and one FMA with d·d_x; two blocks in flight with separate accumulators.
/// (A generic function over a protocol rather than a closure: LLVM declined to inline the
/// closure version for some formats, leaving a call per block.)
@inline(__always)
func legacyIntegerDot<K: LegacyIntegerBlock>(_: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var off0: Float = 0, off1: Float = 0
    var b = 0
    while b + 2 <= blocks {
        legacyIntegerStep(K.self, row, a, b, &acc0, &off0)
        legacyIntegerStep(K.self, row, a, b + 1, &acc1, &off1)
        b += 2
    }
    if b < blocks { legacyIntegerStep(K.self, row, a, b, &acc0, &off0) }
    return horizontalSum(acc0 + acc1) + (off0 + off1)
}

/// One block of ``legacyIntegerDot(_:_:_:blocks:)``.
@inline(__always)
func legacyIntegerStep<K: LegacyIntegerBlock>(
    _: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, _ b: Int,
    _ acc: inout SIMD16<Float>, _ off: inout Float
) {
    let p = row + b * K.bytes
    let s = K.products(p, a.codes + 32 * b)
    if K.hasOffset {
        let dm = loadHalves8(p, 0)
        acc.addProduct(floats(s), SIMD16(repeating: dm[0] * a.scales[b]))
        off.addProduct(dm[1], a.sums[b])
    } else {
        // Only d is needed, and LLVM narrows any load of it back to a 16-bit `vpinsrw`
        // that merges into the accumulator register (a false dependency chaining every
        // block to the previous FMA). Masking the 32-bit word with a mask it cannot see is
        // 0xFFFF keeps the load 32 bits wide (`vmovd`, no merge); the second half is then
        // +0 and adding it changes nothing.
        let bits = p.loadUnaligned(as: UInt32.self) & a.lowHalfMask
        let dz = halfPairToFloats(bits)
        acc.addProduct(floats(s), SIMD16(repeating: dz[0] * a.scales[b] + dz[1]))
    }
}

extension BlockQ4_1: LegacyIntegerBlock {
    static var hasOffset: Bool { true }
    @inline(__always)
    static func products(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> SIMD16<Int16> {
        let qs = loadBytes16(p, 4)
        return widenUnsigned(qs & 0x0F) &* loadCodes16(x) &+ widenUnsigned(qs &>> 4) &* loadCodes16(x + 16)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.isNative ? byteDotRow(Self.self, row, a, blocks: blocks) : legacyIntegerDot(Self.self, row, a, blocks: blocks)
    }
}

extension BlockQ5_1: LegacyIntegerBlock {
    static var hasOffset: Bool { true }
    @inline(__always)
    static func products(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> SIMD16<Int16> {
        let h = fifthBitsOfWord(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let qs = loadBytes16(p, 8)
        return widenUnsigned((qs & 0x0F) | h.low) &* loadCodes16(x) &+ widenUnsigned((qs &>> 4) | h.high) &* loadCodes16(x + 16)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.isNative ? byteDotRow(Self.self, row, a, blocks: blocks) : legacyIntegerDot(Self.self, row, a, blocks: blocks)
    }
}

// Q4_0, Q5_0 and Q8_0 use the 32-bit pairwise products of IntegerDotPairwise.swift, which
// measured faster for them; Q4_1 and Q5_1 measured faster with these 16-bit lanes. Where the
// byte dot is native (IntegerDotBytes.swift), all but Q8_0 decode with it instead.
