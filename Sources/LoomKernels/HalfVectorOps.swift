/// Dot products and `axpy` with one operand stored as IEEE halves (bit patterns): small
/// factor matrices kept at half the bytes, e.g. LoRA's A and B on a quantised base, where
/// reading them is most of their cost at single-token decode.
public enum HalfVectorOps {
    /// `Σ h[i]·x[i]`, 16 lanes at a time, the halves widened exactly to float.
    public static func dot(_ h: UnsafePointer<UInt16>, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= count {
            let halves = UnsafeRawPointer(h + i).loadUnaligned(as: SIMD16<UInt16>.self)
            acc.addProduct(halvesToFloats(halves), UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self))
            i += 16
        }
        var sum = VectorOps.laneSum(acc)
        while i < count {
            sum += halfToFloat(h[i]) * x[i]
            i += 1
        }
        return sum
    }

    /// `y[i] += a·h[i]`.
    public static func axpy(_ a: Float, _ h: UnsafePointer<UInt16>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let av = SIMD16<Float>(repeating: a)
        var i = 0
        while i + 16 <= count {
            let halves = UnsafeRawPointer(h + i).loadUnaligned(as: SIMD16<UInt16>.self)
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv.addingProduct(av, halvesToFloats(halves)), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            y[i] += a * halfToFloat(h[i])
            i += 1
        }
    }
}
