import LoomKernels

/// The inner loops of the backward ops — dot products and `y += a·x` — with a SIMD path for
/// `Float` (16 lanes, as ``VectorOps``) and a plain loop for `Double` (the gradient checks).
/// The type test is resolved when the generic op is specialised, so it costs nothing.
///
/// The vector dot sums in a different order from the scalar loop; results differ in the last
/// bits only (the PyTorch parity tests bound what that may change).
enum TrainingKernels {
    /// `Σ a[i]·b[i]` over `count` elements.
    @inlinable
    static func dot<T: TrainingScalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) -> T {
        if T.self == Float.self {
            let x = UnsafeRawPointer(a), y = UnsafeRawPointer(b)
            var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
            var i = 0
            while i + 32 <= count {
                acc0.addProduct(x.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self),
                                y.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
                acc1.addProduct(x.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self),
                                y.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self))
                i += 32
            }
            while i + 16 <= count {
                acc0.addProduct(x.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self),
                                y.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
                i += 16
            }
            var s = (acc0 + acc1).sum()
            let xf = x.assumingMemoryBound(to: Float.self), yf = y.assumingMemoryBound(to: Float.self)
            while i < count { s += xf[i] * yf[i]; i += 1 }
            return T(s)
        }
        var s: T = 0
        for i in 0..<count { s += a[i] * b[i] }
        return s
    }

    /// `y[i] += alpha·x[i]` over `count` elements.
    @inlinable
    static func axpy<T: TrainingScalar>(_ alpha: T, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self {
            VectorOps.axpy(Float(alpha), UnsafeRawPointer(x).assumingMemoryBound(to: Float.self),
                           UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), count: count)
            return
        }
        for i in 0..<count { y[i] += alpha * x[i] }
    }
}
