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

    /// The sum of the 16 lanes in lane order, `((v[0] + v[1]) + v[2]) + … + v[15]`: exactly
    /// the standard library's `SIMD.sum()` (which starts from −0, and −0 + x = x), always
    /// inlined. The generic `sum()` was left as a call in `dot4x4`, where its 16 calls took
    /// as long as the multiply-adds (`perf`, long-context prompt attention).
    @inlinable @inline(__always)
    static func laneSum(_ v: SIMD16<Float>) -> Float {
        var s = v[0]
        for i in 1..<16 { s += v[i] }
        return s
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
        var r = SIMD4<Float>(laneSum(sa), laneSum(sb), laneSum(sc), laneSum(sd))
        while i < count {
            r += SIMD4(a[i], b[i], c[i], d[i]) * x[i]
            i += 1
        }
        return r
    }

    /// Four rows dotted with four activation vectors: `result[t][r] = row_r · x_t`. Each of
    /// the 16 pairs keeps its own accumulator in the same order as ``dot4``, so the results
    /// are bit-identical to four `dot4` calls, with half the loads per multiply-add (a
    /// register-blocked micro-kernel for batched matmuls).
    @inlinable
    public static func dot4x4(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>, _ x3: UnsafePointer<Float>,
        count: Int
    ) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
        var a0 = V(), b0 = V(), c0 = V(), d0 = V()
        var a1 = V(), b1 = V(), c1 = V(), d1 = V()
        var a2 = V(), b2 = V(), c2 = V(), d2 = V()
        var a3 = V(), b3 = V(), c3 = V(), d3 = V()
        var i = 0
        while i + 16 <= count {
            let ra = load(a + i), rb = load(b + i), rc = load(c + i), rd = load(d + i)
            let v0 = load(x0 + i)
            a0.addProduct(ra, v0); b0.addProduct(rb, v0); c0.addProduct(rc, v0); d0.addProduct(rd, v0)
            let v1 = load(x1 + i)
            a1.addProduct(ra, v1); b1.addProduct(rb, v1); c1.addProduct(rc, v1); d1.addProduct(rd, v1)
            let v2 = load(x2 + i)
            a2.addProduct(ra, v2); b2.addProduct(rb, v2); c2.addProduct(rc, v2); d2.addProduct(rd, v2)
            let v3 = load(x3 + i)
            a3.addProduct(ra, v3); b3.addProduct(rb, v3); c3.addProduct(rc, v3); d3.addProduct(rd, v3)
            i += 16
        }
        var r0 = SIMD4<Float>(laneSum(a0), laneSum(b0), laneSum(c0), laneSum(d0))
        var r1 = SIMD4<Float>(laneSum(a1), laneSum(b1), laneSum(c1), laneSum(d1))
        var r2 = SIMD4<Float>(laneSum(a2), laneSum(b2), laneSum(c2), laneSum(d2))
        var r3 = SIMD4<Float>(laneSum(a3), laneSum(b3), laneSum(c3), laneSum(d3))
        while i < count {
            let column = SIMD4(a[i], b[i], c[i], d[i])
            r0 += column * x0[i]; r1 += column * x1[i]; r2 += column * x2[i]; r3 += column * x3[i]
            i += 1
        }
        return (r0, r1, r2, r3)
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
        var sum = laneSum(acc)
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

    /// `gate[i] = relu(gate[i])² · up[i]`: BitNet b1.58's gated feed-forward (transformers'
    /// `ReLUSquaredActivation`, `hidden_act: "relu2"`).
    public static func squaredReLUGate(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = max(gate[i], 0)
            gate[i] = g * g * up[i]
        }
    }

    /// SwiGLU: `gate = silu(gate) * up`, with silu(g) = g / (1 + e^-g) (``exponential(_:)``,
    /// 16 at a time; the tail zero-padded, so every element gets the same arithmetic).
    @inlinable
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let g = load(gate + i)
            store(g / (1 + exponential(-g)) * load(up + i), gate + i)
            i += 16
        }
        if i < count {
            let g = loadPadded(gate + i, count: count - i), u = loadPadded(up + i, count: count - i)
            storePrefix(g / (1 + exponential(-g)) * u, gate + i, count: count - i)
        }
    }

    /// In-place softmax; returns nothing, leaves probabilities summing to 1.
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var m = -Float.infinity
        for i in 0..<count where x[i] > m { m = x[i] }
        var sums = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            let e = exponential(load(x + i) - m)
            store(e, x + i)
            sums += e
            i += 16
        }
        if i < count {
            // Padding lanes hold e^(0 − m) and are not stored or summed.
            var e = exponential(loadPadded(x + i, count: count - i) - m)
            storePrefix(e, x + i, count: count - i)
            for k in (count - i)..<16 { e[k] = 0 }
            sums += e
        }
        let sum = laneSum(sums)
        let inv = 1 / sum
        scale(x, by: inv, count: count)
    }

    /// The first `count` (< 16) floats at `p`, the other lanes zero.
    @inlinable
    static func loadPadded(_ p: UnsafePointer<Float>, count: Int) -> SIMD16<Float> {
        var v = SIMD16<Float>()
        withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count * MemoryLayout<Float>.stride) }
        return v
    }

    /// Stores the first `count` (< 16) lanes of `v` at `p`.
    @inlinable
    static func storePrefix(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
        withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: count * MemoryLayout<Float>.stride) }
    }

    /// e^x per lane, within ≈ 2 ulp of `exp` for x in [−87.3, 88.3] (inputs outside are
    /// clamped: e^−87.3 ≈ 1.2·10⁻³⁸ stands for 0, e^88.3 ≈ 2.4·10³⁸ for overflow). Cephes'
    /// `expf`: x = n·ln 2 + r with |r| ≤ ln 2 / 2, a degree-7 polynomial for e^r, and 2^n put
    /// into the exponent bits. Whole-vector operations only (rounding by the 1.5·2²³ trick),
    /// where glibc's scalar `expf` was ≈ 6 % of a prompt (SiLU and attention's softmax).
    @inlinable
    public static func exponential(_ v: SIMD16<Float>) -> SIMD16<Float> {
        var x = v.replacing(with: -87.336_54, where: v .< -87.336_54)
        x.replace(with: 88.376_26, where: x .> 88.376_26)
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self) &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: SIMD16<Float>.self)
    }

    /// ``exponential(_:)`` of four lanes (the same arithmetic per lane).
    @inlinable
    public static func exponential(_ v: SIMD4<Float>) -> SIMD4<Float> {
        let e = exponential(SIMD16(lowHalf: SIMD8(lowHalf: v, highHalf: .zero), highHalf: .zero))
        return e.lowHalf.lowHalf
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

    /// Scales `v` to unit Euclidean length, the sum of squares in Double (embeddings'
    /// `normalize`, sentence-transformers' `Normalize` module); a zero vector stays zero.
    public static func normalizeL2(_ v: inout [Float]) {
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { return }
        for i in v.indices { v[i] = Float(Double(v[i]) / norm) }
    }

    /// The cosine of the angle between `a` and `b` (equal lengths), summed in Double: how
    /// embeddings are compared. 0 when either is the zero vector.
    public static func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "cosineSimilarity: vectors of \(a.count) and \(b.count) elements")
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            dot += Double(a[i]) * Double(b[i])
            na += Double(a[i]) * Double(a[i])
            nb += Double(b[i]) * Double(b[i])
        }
        return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
    }

    /// Index of the largest element (the first one on ties).
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where x[i] > x[best] { best = i }
        return best
    }
}
