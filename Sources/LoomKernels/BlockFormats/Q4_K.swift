/// Q4_K: super-blocks of 256 weights in 144 bytes —
/// `half d; half dmin; u8 scales[12]; u8 qs[128]`.
///
/// Eight groups of 32 with 6-bit scales and mins packed in 12 bytes (ggml's
/// `get_scale_min_k4`). Chunk c (0..<4) uses qs[32c ..< 32c + 32]: low nibbles are
/// elements 64c + l of group 2c, high nibbles elements 64c + 32 + l of group 2c + 1.
/// value = d·sc·q − dmin·m.
enum BlockQ4_K {
    static let bytes = 144

    /// Unpacks the 12 scale bytes at `offset` into eight 6-bit scales and eight 6-bit mins:
    /// groups 0..<4 take the low 6 bits of bytes 0..<4 (scales) and 4..<8 (mins); groups
    /// 4..<8 take a nibble of bytes 8..<12 plus the top 2 bits of bytes 0..<4 / 4..<8.
    @inline(__always)
    static func scalesAndMins(_ p: UnsafeRawPointer, at offset: Int) -> (scales: SIMD8<UInt8>, mins: SIMD8<UInt8>) {
        let a = unsafeBitCast(p.loadUnaligned(fromByteOffset: offset, as: UInt32.self), to: SIMD4<UInt8>.self)
        let b = unsafeBitCast(p.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self), to: SIMD4<UInt8>.self)
        let c = unsafeBitCast(p.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self), to: SIMD4<UInt8>.self)
        let scales = SIMD8(lowHalf: a & 63, highHalf: (c & 0x0F) | ((a &>> 6) &<< 4))
        let mins = SIMD8(lowHalf: b & 63, highHalf: (c &>> 4) | ((b &>> 6) &<< 4))
        return (scales, mins)
    }

    /// Per-group d·sc and dmin·m, one lane per group (products rounded as in ggml).
    @inline(__always)
    static func groupScales(_ p: UnsafeRawPointer) -> (scale: SIMD8<Float>, offset: SIMD8<Float>) {
        let (sc, m) = scalesAndMins(p, at: 4)
        return (loadHalf(p, 0) * unsignedFloats(sc), loadHalf(p, 2) * unsignedFloats(m))
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let (scale, offset) = groupScales(p)
            for c in 0..<4 {
                for g in 0..<2 {
                    let q = loadBytes16(p, 16 + 32 * c + 16 * g)
                    let yc = y + 64 * c + 16 * g
                    storeFloats16(unsignedFloats(q & 0x0F) * scale[2 * c] - SIMD16(repeating: offset[2 * c]), yc)
                    storeFloats16(unsignedFloats(q &>> 4) * scale[2 * c + 1] - SIMD16(repeating: offset[2 * c + 1]), yc + 32)
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
            let (scale, offset) = groupScales(p)
            for c in 0..<4 {
                let q0 = loadBytes16(p, 16 + 32 * c)
                let q1 = loadBytes16(p, 16 + 32 * c + 16)
                let xc = xp + 64 * c
                let (s0, m0, s1, m1) = (scale[2 * c], -offset[2 * c], scale[2 * c + 1], -offset[2 * c + 1])
                acc.0.addProduct(SIMD16(repeating: m0).addingProduct(unsignedFloats(q0 & 0x0F), s0), loadFloats16(xc))
                acc.1.addProduct(SIMD16(repeating: m0).addingProduct(unsignedFloats(q1 & 0x0F), s0), loadFloats16(xc + 16))
                acc.2.addProduct(SIMD16(repeating: m1).addingProduct(unsignedFloats(q0 &>> 4), s1), loadFloats16(xc + 32))
                acc.3.addProduct(SIMD16(repeating: m1).addingProduct(unsignedFloats(q1 &>> 4), s1), loadFloats16(xc + 48))
            }
            p += bytes
            xp += 256
        }
        return horizontalSum((acc.0 + acc.1) + (acc.2 + acc.3))
    }
}
