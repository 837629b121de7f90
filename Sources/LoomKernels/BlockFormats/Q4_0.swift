/// Q4_0: blocks of 32 weights in 18 bytes — `half d; u8 qs[16]`.
/// Element j (0..<16) is the low nibble of qs[j], element j+16 the high nibble;
/// value = (nibble - 8)·d.
enum BlockQ4_0 {
    static let bytes = 18

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let d = SIMD16<Float>(repeating: loadHalf(p, 0))
            let qs = loadBytes16(p, 2)
            // Subtracting 8 in the byte domain and sign-extending saves a float subtract;
            // (q - 8)·d is the same single rounding as ggml's float expression.
            storeFloats16(signedFloats((qs & 0x0F) &- 8) * d, y)
            storeFloats16(signedFloats((qs &>> 4) &- 8) * d, y + 16)
            p += bytes
            y += 32
        }
    }

    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        var acc = SIMD16<Float>()
        var p = row
        var xp = x
        for _ in 0..<blocks {
            let qs = loadBytes16(p, 2)
            // Σ q·x over the block first, then one FMA with d: the scale multiplies once per block.
            var s = signedFloats((qs & 0x0F) &- 8) * loadFloats16(xp)
            s.addProduct(signedFloats((qs &>> 4) &- 8), loadFloats16(xp + 16))
            acc.addProduct(s, SIMD16(repeating: loadHalf(p, 0)))
            p += bytes
            xp += 32
        }
        return horizontalSum(acc)
    }
}
