import Foundation

/// Element-wise and reduction kernels over float vectors (SIMD16 with scalar tails).
public enum VectorOps {
    @usableFromInline typealias V = SIMD16<Float>

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inlinable @inline(__always)
    static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// Four dot products of four rows with the same vector `x`, loading `x` once.
    @inlinable
    public static func dot4(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ d: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int
    ) -> SIMD4<Float> {
        var sa = V(), sb = V(), sc = V(), sd = V()
        var i = 0
        while i + 16 <= count {
            let xv = load(x + i)
            sa.addProduct(load(a + i), xv)
            sb.addProduct(load(b + i), xv)
            sc.addProduct(load(c + i), xv)
            sd.addProduct(load(d + i), xv)
            i += 16
        }
        var r = SIMD4<Float>(sa.sum(), sb.sum(), sc.sum(), sd.sum())
        while i < count {
            r += SIMD4(a[i], b[i], c[i], d[i]) * x[i]
            i += 1
        }
        return r
    }

    /// `out = x / sqrt(mean(x²) + eps) * weight` (RMSNorm as HF and llama.cpp compute it, in f32).
    @inlinable
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
        into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        var acc = V()
        var i = 0
        while i + 16 <= count { let v = load(x + i); acc.addProduct(v, v); i += 16 }
        var sum = acc.sum()
        while i < count { sum += x[i] * x[i]; i += 1 }
        let scale = 1 / (sum / Float(count) + eps).squareRoot()
        i = 0
        while i + 16 <= count { store(load(x + i) * scale * load(weight + i), out + i); i += 16 }
        while i < count { out[i] = x[i] * scale * weight[i]; i += 1 }
    }

    /// `y += x`.
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count { store(load(y + i) + load(x + i), y + i); i += 16 }
        while i < count { y[i] += x[i]; i += 1 }
    }

    /// SwiGLU: `gate = silu(gate) * up`, with silu(g) = g / (1 + e^-g).
    @inlinable
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + exp(-g)) * up[i]
        }
    }

    /// In-place softmax; returns nothing, leaves probabilities summing to 1.
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var m = -Float.infinity
        for i in 0..<count where x[i] > m { m = x[i] }
        var sum: Float = 0
        for i in 0..<count { let e = exp(x[i] - m); x[i] = e; sum += e }
        let inv = 1 / sum
        scale(x, by: inv, count: count)
    }

    /// `x *= s`.
    @inlinable
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count: Int) {
        var i = 0
        while i + 16 <= count { store(load(x + i) * s, x + i); i += 16 }
        while i < count { x[i] *= s; i += 1 }
    }

    /// `y += a * x`.
    @inlinable
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let av = V(repeating: a)
        while i + 16 <= count { store(load(y + i).addingProduct(av, load(x + i)), y + i); i += 16 }
        while i < count { y[i] += a * x[i]; i += 1 }
    }

    /// Index of the largest element (the first one on ties).
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where x[i] > x[best] { best = i }
        return best
    }
}
