/// Q5_K: super-blocks of 256 weights in 176 bytes —
/// `half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]`.
///
/// Q4_K plus a fifth bit: in chunk c the low-nibble elements (group 2c) take bit 2c of
/// qh[l] and the high-nibble elements (group 2c + 1) take bit 2c + 1, as bit 4 of q.
/// value = d·sc·q − dmin·m, q in 0...31.
enum BlockQ5_K {
    static let bytes = 176

    @inline(__always)
    static func groupScales(_ p: UnsafeRawPointer) -> (scale: SIMD8<Float>, offset: SIMD8<Float>) {
        let (sc, m) = BlockQ4_K.scalesAndMins(p, at: 4)
        return (loadHalf(p, 0) * unsignedFloats(sc), loadHalf(p, 2) * unsignedFloats(m))
    }

    /// Codes for the low- and high-nibble groups of chunk c from 16 qs bytes and their qh bytes.
    @inline(__always)
    static func codes(_ q: SIMD16<UInt8>, _ qh: SIMD16<UInt8>, chunk c: Int) -> (low: SIMD16<UInt8>, high: SIMD16<UInt8>) {
        let low = (q & 0x0F) | (((qh &>> UInt8(2 * c)) & 1) &<< 4)
        let high = (q &>> 4) | (((qh &>> UInt8(2 * c + 1)) & 1) &<< 4)
        return (low, high)
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let (scale, offset) = groupScales(p)
            for g in 0..<2 {
                let qh = loadBytes16(p, 16 + 16 * g)
                for c in 0..<4 {
                    let q = codes(loadBytes16(p, 48 + 32 * c + 16 * g), qh, chunk: c)
                    let yc = y + 64 * c + 16 * g
                    storeFloats16(unsignedFloats(q.low) * scale[2 * c] - SIMD16(repeating: offset[2 * c]), yc)
                    storeFloats16(unsignedFloats(q.high) * scale[2 * c + 1] - SIMD16(repeating: offset[2 * c + 1]), yc + 32)
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
            let qh0 = loadBytes16(p, 16)
            let qh1 = loadBytes16(p, 32)
            for c in 0..<4 {
                let q0 = codes(loadBytes16(p, 48 + 32 * c), qh0, chunk: c)
                let q1 = codes(loadBytes16(p, 48 + 32 * c + 16), qh1, chunk: c)
                let xc = xp + 64 * c
                let (s0, m0, s1, m1) = (scale[2 * c], -offset[2 * c], scale[2 * c + 1], -offset[2 * c + 1])
                acc.0.addProduct(SIMD16(repeating: m0).addingProduct(unsignedFloats(q0.low), s0), loadFloats16(xc))
                acc.1.addProduct(SIMD16(repeating: m0).addingProduct(unsignedFloats(q1.low), s0), loadFloats16(xc + 16))
                acc.2.addProduct(SIMD16(repeating: m1).addingProduct(unsignedFloats(q0.high), s1), loadFloats16(xc + 32))
                acc.3.addProduct(SIMD16(repeating: m1).addingProduct(unsignedFloats(q1.high), s1), loadFloats16(xc + 48))
            }
            p += bytes
            xp += 256
        }
        return horizontalSum((acc.0 + acc.1) + (acc.2 + acc.3))
    }
}
