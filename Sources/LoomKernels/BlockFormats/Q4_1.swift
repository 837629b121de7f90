/// Q4_1: blocks of 32 weights in 20 bytes — `half d; half m; u8 qs[16]`.
/// Element j is the low nibble of qs[j], element j+16 the high nibble; value = nibble·d + m.
enum BlockQ4_1 {
    static let bytes = 20

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let d = SIMD16<Float>(repeating: loadHalf(p, 0))
            let m = SIMD16<Float>(repeating: loadHalf(p, 2))
            let qs = loadBytes16(p, 4)
            // Multiply then add, two roundings, exactly as ggml (no FMA contraction in Swift).
            storeFloats16(unsignedFloats(qs & 0x0F) * d + m, y)
            storeFloats16(unsignedFloats(qs &>> 4) * d + m, y + 16)
            p += bytes
            y += 32
        }
    }

    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        var acc = SIMD16<Float>()
        var p = row
        var xp = x
        for _ in 0..<blocks {
            let d = SIMD16<Float>(repeating: loadHalf(p, 0))
            let m = SIMD16<Float>(repeating: loadHalf(p, 2))
            let qs = loadBytes16(p, 4)
            acc.addProduct(m.addingProduct(unsignedFloats(qs & 0x0F), d), loadFloats16(xp))
            acc.addProduct(m.addingProduct(unsignedFloats(qs &>> 4), d), loadFloats16(xp + 16))
            p += bytes
            xp += 32
        }
        return horizontalSum(acc)
    }
}
