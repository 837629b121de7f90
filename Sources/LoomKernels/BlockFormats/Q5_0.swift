/// Q5_0: blocks of 32 weights in 22 bytes — `half d; u8 qh[4]; u8 qs[16]`.
/// qh is a little-endian u32 holding the fifth bit of element i in bit i. Element j is the
/// low nibble of qs[j] plus bit j of qh as bit 4, element j+16 the high nibble plus bit
/// j+16; value = (q - 16)·d.
enum BlockQ5_0 {
    static let bytes = 22

    @inline(__always)
    static func quants(_ p: UnsafeRawPointer) -> (low: SIMD16<UInt8>, high: SIMD16<UInt8>) {
        let qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        let qs = loadBytes16(p, 6)
        // Centre on zero in the byte domain (wrapping), read back as signed.
        let low = ((qs & 0x0F) | fifthBits(UInt16(truncatingIfNeeded: qh))) &- 16
        let high = ((qs &>> 4) | fifthBits(UInt16(truncatingIfNeeded: qh >> 16))) &- 16
        return (low, high)
    }

    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        var p = src
        var y = dst
        for _ in 0..<blocks {
            let d = SIMD16<Float>(repeating: loadHalf(p, 0))
            let q = quants(p)
            storeFloats16(signedFloats(q.low) * d, y)
            storeFloats16(signedFloats(q.high) * d, y + 16)
            p += bytes
            y += 32
        }
    }

    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        var acc = SIMD16<Float>()
        var p = row
        var xp = x
        for _ in 0..<blocks {
            let q = quants(p)
            var s = signedFloats(q.low) * loadFloats16(xp)
            s.addProduct(signedFloats(q.high), loadFloats16(xp + 16))
            acc.addProduct(s, SIMD16(repeating: loadHalf(p, 0)))
            p += bytes
            xp += 32
        }
        return horizontalSum(acc)
    }
}
