/// Q2_K: super-blocks of 256 weights in 84 bytes —
/// `u8 scales[16]; u8 qs[64]; half d; half dmin`.
///
/// Sixteen groups of 16 weights. Each scale byte holds a 4-bit scale (low nibble) and a
/// 4-bit min (high nibble) for one group. The block is two halves of 128; in half h,
/// byte qs[32h + l] (l = 0..<32) carries four 2-bit codes, bits 2j..2j+1 belonging to
/// element 128h + 32j + l. Group index = 8h + 2j + (l ≥ 16 ? 1 : 0).
/// value = d·(sc & 15)·q − dmin·(sc >> 4).
enum BlockQ2_K {
    static let bytes = 84

    /// Per-group scale d·(sc & 15) and offset dmin·(sc >> 4), one lane per group.
    @inline(__always)
    static func groupScales(_ p: UnsafeRawPointer) -> (scale: SIMD16<Float>, offset: SIMD16<Float>) {
        let sc = loadBytes16(p, 0)
        return (loadHalf(p, 80) * unsignedFloats(sc & 0x0F), loadHalf(p, 82) * unsignedFloats(sc &>> 4))
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let (scale, offset) = groupScales(p)
            for h in 0..<2 {
                for g in 0..<2 {
                    let q = loadBytes16(p, 16 + 32 * h + 16 * g)
                    for j in 0..<4 {
                        let k = 8 * h + 2 * j + g
                        let v = unsignedFloats((q &>> UInt8(2 * j)) & 3)
                        // dl·q − ml with two roundings, as ggml and gguf-py compute it.
                        storeFloats16(v * scale[k] - SIMD16(repeating: offset[k]), y + 128 * h + 32 * j + 16 * g)
                    }
                }
            }
            p += bytes
            y += 256
        }
    }

    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        // One accumulator per 2-bit plane j: four independent FMA chains instead of one.
        var acc = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        var p = row
        var xp = x
        for _ in 0..<blocks {
            let (scale, offset) = groupScales(p)
            for h in 0..<2 {
                for g in 0..<2 {
                    let q = loadBytes16(p, 16 + 32 * h + 16 * g)
                    let xg = xp + 128 * h + 16 * g
                    let k = 8 * h + g
                    acc.0.addProduct(weights(q, 0, scale[k], offset[k]), loadFloats16(xg))
                    acc.1.addProduct(weights(q, 2, scale[k + 2], offset[k + 2]), loadFloats16(xg + 32))
                    acc.2.addProduct(weights(q, 4, scale[k + 4], offset[k + 4]), loadFloats16(xg + 64))
                    acc.3.addProduct(weights(q, 6, scale[k + 6], offset[k + 6]), loadFloats16(xg + 96))
                }
            }
            p += bytes
            xp += 256
        }
        return horizontalSum((acc.0 + acc.1) + (acc.2 + acc.3))
    }

    /// The 2-bit plane at `shift` of 16 bytes as weights q·scale − offset (fused).
    @inline(__always)
    static func weights(_ q: SIMD16<UInt8>, _ shift: UInt8, _ scale: Float, _ offset: Float) -> SIMD16<Float> {
        SIMD16(repeating: -offset).addingProduct(unsignedFloats((q &>> shift) & 3), scale)
    }
}
