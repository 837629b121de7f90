/// Q8_0: blocks of 32 weights in 34 bytes — `half d; i8 qs[32]`; value = qs[j]·d.
enum BlockQ8_0 {
    static let bytes = 34

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let d = SIMD16<Float>(repeating: loadHalf(p, 0))
            storeFloats16(signedFloats(loadBytes16(p, 2)) * d, y)
            storeFloats16(signedFloats(loadBytes16(p, 18)) * d, y + 16)
            p += bytes
            y += 32
        }
    }

    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        var acc = SIMD16<Float>()
        var p = row
        var xp = x
        for _ in 0..<blocks {
            var s = signedFloats(loadBytes16(p, 2)) * loadFloats16(xp)
            s.addProduct(signedFloats(loadBytes16(p, 18)), loadFloats16(xp + 16))
            acc.addProduct(s, SIMD16(repeating: loadHalf(p, 0)))
            p += bytes
            xp += 32
        }
        return horizontalSum(acc)
    }
}
