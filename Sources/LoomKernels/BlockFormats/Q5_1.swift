/// Q5_1: blocks of 32 weights in 24 bytes — `half d; half m; u8 qh[4]; u8 qs[16]`.
/// Bits as in Q5_0 (5-bit q in 0...31) but unsigned with an offset: value = q·d + m.
enum BlockQ5_1 {
    static let bytes = 24

    @inline(__always)
    static func quants(_ p: UnsafeRawPointer) -> (low: SIMD16<UInt8>, high: SIMD16<UInt8>) {
        let qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let qs = loadBytes16(p, 8)
        let low = (qs & 0x0F) | fifthBits(UInt16(truncatingIfNeeded: qh))
        let high = (qs &>> 4) | fifthBits(UInt16(truncatingIfNeeded: qh >> 16))
        return (low, high)
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let d = SIMD16<Float>(repeating: loadHalf(p, 0))
            let m = SIMD16<Float>(repeating: loadHalf(p, 2))
            let q = quants(p)
            storeFloats16(unsignedFloats(q.low) * d + m, y)
            storeFloats16(unsignedFloats(q.high) * d + m, y + 16)
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
            let q = quants(p)
            acc.addProduct(m.addingProduct(unsignedFloats(q.low), d), loadFloats16(xp))
            acc.addProduct(m.addingProduct(unsignedFloats(q.high), d), loadFloats16(xp + 16))
            p += bytes
            xp += 32
        }
        return horizontalSum(acc)
    }
}
