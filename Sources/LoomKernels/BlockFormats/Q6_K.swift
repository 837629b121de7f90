/// Q6_K: super-blocks of 256 weights in 210 bytes —
/// `u8 ql[128]; u8 qh[64]; i8 scales[16]; half d`.
///
/// Two halves of 128 (ql += 64, qh += 32, scales += 8 per half). For l in 0..<32, with
/// A = ql[l], B = ql[l + 32], H = qh[l] and group offset l/16:
///   element l      = (A & 15) | (H & 3) << 4,        scale[l/16]
///   element l + 32 = (B & 15) | (H >> 2 & 3) << 4,   scale[l/16 + 2]
///   element l + 64 = (A >> 4) | (H >> 4 & 3) << 4,   scale[l/16 + 4]
///   element l + 96 = (B >> 4) | (H >> 6) << 4,       scale[l/16 + 6]
/// value = d·scale·(q − 32).
enum BlockQ6_K {
    static let bytes = 210

    /// The sixteen group scales d·scale, one lane per group.
    @inline(__always)
    static func groupScales(_ p: UnsafeRawPointer) -> SIMD16<Float> {
        loadHalf(p, 208) * signedFloats(loadBytes16(p, 192))
    }

    /// The four 16-element code vectors (as signed bytes −32...31) for half h, group g.
    @inline(__always)
    static func codes(_ p: UnsafeRawPointer, half h: Int, group g: Int)
        -> (SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>) {
        let (q1, q2, q3, q4) = unsignedCodes(p, half: h, group: g)
        return (q1 &- 32, q2 &- 32, q3 &- 32, q4 &- 32)
    }

    /// The four 16-element vectors of stored codes q (0...63) for half h, group g: elements
    /// 128h + 16g + 32j ..< +16 in vector j.
    @inline(__always)
    static func unsignedCodes(_ p: UnsafeRawPointer, half h: Int, group g: Int)
        -> (SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>, SIMD16<UInt8>) {
        let a = loadBytes16(p, 64 * h + 16 * g)
        let b = loadBytes16(p, 64 * h + 32 + 16 * g)
        let hb = loadBytes16(p, 128 + 32 * h + 16 * g)
        let q1 = (a & 0x0F) | ((hb & 0x03) &<< 4)
        let q2 = (b & 0x0F) | ((hb & 0x0C) &<< 2)
        let q3 = (a &>> 4) | (hb & 0x30)
        let q4 = (b &>> 4) | ((hb & 0xC0) &>> 2)
        return (q1, q2, q3, q4)
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let scale = groupScales(p)
            for h in 0..<2 {
                for g in 0..<2 {
                    let (q1, q2, q3, q4) = codes(p, half: h, group: g)
                    let yg = y + 128 * h + 16 * g
                    let k = 8 * h + g
                    storeFloats16(signedFloats(q1) * scale[k], yg)
                    storeFloats16(signedFloats(q2) * scale[k + 2], yg + 32)
                    storeFloats16(signedFloats(q3) * scale[k + 4], yg + 64)
                    storeFloats16(signedFloats(q4) * scale[k + 6], yg + 96)
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
            for h in 0..<2 {
                for g in 0..<2 {
                    let (q1, q2, q3, q4) = codes(p, half: h, group: g)
                    let xg = xp + 128 * h + 16 * g
                    let k = 8 * h + g
                    acc.0.addProduct(signedFloats(q1) * scale[k], loadFloats16(xg))
                    acc.1.addProduct(signedFloats(q2) * scale[k + 2], loadFloats16(xg + 32))
                    acc.2.addProduct(signedFloats(q3) * scale[k + 4], loadFloats16(xg + 64))
                    acc.3.addProduct(signedFloats(q4) * scale[k + 6], loadFloats16(xg + 96))
                }
            }
            p += bytes
            xp += 256
        }
        return horizontalSum((acc.0 + acc.1) + (acc.2 + acc.3))
    }
}
