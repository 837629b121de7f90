/// Q3_K: super-blocks of 256 weights in 110 bytes —
/// `u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d`.
///
/// Sixteen groups of 16 with signed 6-bit scales packed in 12 bytes (low 4 bits of
/// group i: byte i (i < 8) low nibble or byte i−8 high nibble; high 2 bits: bits
/// 2·(i/4).. of byte 8 + i%4; scale = that − 32). Low 2 bits of each code come from qs
/// in the Q2_K order (element 128h + 32j + l, bits 2j of qs[32h + l]); the third bit is
/// bit 4h + j of hmask[l]. value = d·scale·(q2 − (hbit ? 0 : 4)).
enum BlockQ3_K {
    static let bytes = 110

    /// The sixteen group scales d·(s − 32), one lane per group.
    @inline(__always)
    static func groupScales(_ p: UnsafeRawPointer) -> SIMD16<Float> {
        loadHalf(p, 108) * signedFloats(signedScales(p))
    }

    /// The sixteen 6-bit group scales s − 32 (−32...31) as signed bytes, one lane per group.
    @inline(__always)
    static func signedScales(_ p: UnsafeRawPointer) -> SIMD16<UInt8> {
        // 8 + 4 loads: a 16-byte load would read past the end of the last block of a row.
        let b = unsafeBitCast(p.loadUnaligned(fromByteOffset: 96, as: UInt64.self), to: SIMD8<UInt8>.self)
        let c = unsafeBitCast(p.loadUnaligned(fromByteOffset: 104, as: UInt32.self), to: SIMD4<UInt8>.self)
        let low = SIMD16(lowHalf: b & 0x0F, highHalf: b &>> 4)
        let high = SIMD16(lowHalf: SIMD8(lowHalf: c, highHalf: c &>> 2),
                          highHalf: SIMD8(lowHalf: c &>> 4, highHalf: c &>> 6)) & 3
        return (low | (high &<< 4)) &- 32
    }

    /// Codes of plane j (0..<4) in half h for 16 elements, as signed bytes −4...3.
    @inline(__always)
    static func codes(_ q: SIMD16<UInt8>, _ hm: SIMD16<UInt8>, plane j: Int, half h: Int) -> SIMD16<UInt8> {
        let low = (q &>> UInt8(2 * j)) & 3
        let high = ((hm &>> UInt8(4 * h + j)) & 1) &<< 2
        // q2 + 4·hbit − 4 equals q2 − (hbit ? 0 : 4).
        return (low | high) &- 4
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let scale = groupScales(p)
            for g in 0..<2 {
                let hm = loadBytes16(p, 16 * g)
                for h in 0..<2 {
                    let q = loadBytes16(p, 32 + 32 * h + 16 * g)
                    for j in 0..<4 {
                        let v = signedFloats(codes(q, hm, plane: j, half: h))
                        storeFloats16(v * scale[8 * h + 2 * j + g], y + 128 * h + 32 * j + 16 * g)
                    }
                }
            }
            p += bytes
            y += 256
        }
    }

    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        var acc = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        var p = row
        var xp = x
        for _ in 0..<blocks {
            let scale = groupScales(p)
            for g in 0..<2 {
                let hm = loadBytes16(p, 16 * g)
                for h in 0..<2 {
                    let q = loadBytes16(p, 32 + 32 * h + 16 * g)
                    let xg = xp + 128 * h + 16 * g
                    let k = 8 * h + g
                    acc.0.addProduct(signedFloats(codes(q, hm, plane: 0, half: h)) * scale[k], loadFloats16(xg))
                    acc.1.addProduct(signedFloats(codes(q, hm, plane: 1, half: h)) * scale[k + 2], loadFloats16(xg + 32))
                    acc.2.addProduct(signedFloats(codes(q, hm, plane: 2, half: h)) * scale[k + 4], loadFloats16(xg + 64))
                    acc.3.addProduct(signedFloats(codes(q, hm, plane: 3, half: h)) * scale[k + 6], loadFloats16(xg + 96))
                }
            }
            p += bytes
            xp += 256
        }
        return horizontalSum((acc.0 + acc.1) + (acc.2 + acc.3))
    }
}
