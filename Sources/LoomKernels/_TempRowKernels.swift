// TEMPORARY stand-in until the block-format kernels land (branch `kernels`). Delete on merge.
@inlinable public func halfToFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
public enum RowKernels {
    public static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16: for i in 0..<count { dst[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q8_0:
            for b in 0..<count / 32 {
                let p = src + b * 34
                let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
                for j in 0..<32 { dst[b * 32 + j] = Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
            }
        case .q4_1:
            for b in 0..<count / 32 {
                let p = src + b * 20
                let d = halfToFloat(p.loadUnaligned(as: UInt16.self))
                let m = halfToFloat(p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                for j in 0..<16 {
                    let q = p.load(fromByteOffset: 4 + j, as: UInt8.self)
                    dst[b * 32 + j] = Float(q & 0xF) * d + m
                    dst[b * 32 + j + 16] = Float(q >> 4) * d + m
                }
            }
        default: fatalError("temp kernels: \(type) not supported")
        }
    }
    public static func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { buf in
            dequantize(type, row, into: buf.baseAddress!, count: count)
            return dotF32(buf.baseAddress!, x, count: count)
        }
    }
    public static func dotF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            acc.addProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self), UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self))
            i += 16
        }
        var s = acc.sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }
}
