// Integer row·activation kernels for the 32-element block formats (Q4_0, Q4_1, Q5_0,
// Q5_1) against ``QuantizedActivations``.
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

    init(_ a: QuantizedActivations, block: Int = 0) {
        codes = UnsafePointer(a.codes + 32 * block)
        scales = UnsafePointer(a.scales + block)
        sums = UnsafePointer(a.sums + block)
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
    @inline(__always)
    func step(_ b: Int, _ acc: inout SIMD16<Float>, _ off: inout Float) {
        let p = row + b * K.bytes
        let s = K.products(p, a.codes + 32 * b)
        let dm = loadHalves8(p, 0)
        acc.addProduct(floats(s), SIMD16(repeating: dm[0] * a.scales[b]))
        if K.hasOffset { off.addProduct(dm[1], a.sums[b]) }
    }
    var b = 0
    while b + 2 <= blocks {
        step(b, &acc0, &off0)
        step(b + 1, &acc1, &off1)
        b += 2
    }
    if b < blocks { step(b, &acc0, &off0) }
    return horizontalSum(acc0 + acc1) + (off0 + off1)
}

/// The fifth bits of a Q5 block for elements 0..<16 (`bits` = qh & 0xFFFF) or 16..<32
/// (`bits` = qh >> 16), as 0 or 16 in 16-bit lanes: a broadcast, a per-lane variable
/// shift (`vpsrlvw`), a mask and a shift — all in the 16-bit domain the products use.
@inline(__always)
func fifthBits16(_ bits: UInt16) -> SIMD16<Int16> {
    let lane = SIMD16<UInt16>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let v = ((SIMD16<UInt16>(repeating: bits) &>> lane) & 1) &<< 4
    return unsafeBitCast(v, to: SIMD16<Int16>.self)
}

extension BlockQ4_0: LegacyIntegerBlock {
    static var hasOffset: Bool { false }
    @inline(__always)
    static func products(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> SIMD16<Int16> {
        let qs = loadBytes16(p, 2)
        return widenSigned((qs & 0x0F) &- 8) &* loadCodes16(x) &+ widenSigned((qs &>> 4) &- 8) &* loadCodes16(x + 16)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        legacyIntegerDot(Self.self, row, a, blocks: blocks)
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
        legacyIntegerDot(Self.self, row, a, blocks: blocks)
    }
}

extension BlockQ5_0: LegacyIntegerBlock {
    static var hasOffset: Bool { false }
    @inline(__always)
    static func products(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> SIMD16<Int16> {
        let qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        let qs = loadBytes16(p, 6)
        let low = (widenUnsigned(qs & 0x0F) | fifthBits16(UInt16(truncatingIfNeeded: qh))) &- 16
        let high = (widenUnsigned(qs &>> 4) | fifthBits16(UInt16(truncatingIfNeeded: qh >> 16))) &- 16
        return low &* loadCodes16(x) &+ high &* loadCodes16(x + 16)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        legacyIntegerDot(Self.self, row, a, blocks: blocks)
    }
}

extension BlockQ5_1: LegacyIntegerBlock {
    static var hasOffset: Bool { true }
    @inline(__always)
    static func products(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> SIMD16<Int16> {
        let qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let qs = loadBytes16(p, 8)
        let low = widenUnsigned(qs & 0x0F) | fifthBits16(UInt16(truncatingIfNeeded: qh))
        let high = widenUnsigned(qs &>> 4) | fifthBits16(UInt16(truncatingIfNeeded: qh >> 16))
        return low &* loadCodes16(x) &+ high &* loadCodes16(x + 16)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        legacyIntegerDot(Self.self, row, a, blocks: blocks)
    }
}

// Q8_0 has no integer kernel: 8-bit weight codes times 10-bit activation codes would
// overflow 16-bit lanes, and its float kernel (one convert + FMA per 16 weights) measured
// as fast as an 8×8-bit integer version.
