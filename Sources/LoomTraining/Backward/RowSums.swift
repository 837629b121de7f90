/// The inner kernel of the pooled ``LoRAFactors`` products: a weighted sum of rows, `out (+)= Σ_j c_j·row_j`, with the
/// output kept in registers, 64 columns at a time, while the rows stream past. Broadcast
/// multiply-adds need no horizontal sums, and `out` is loaded and stored once per call
/// instead of once per row (as an `axpy` per row would).
enum RowSums {
    typealias V = SIMD16<Float>

    /// `out[0..<width] (+)= Σ_{j<count} c[j·cStride]·rows[j·stride ..< j·stride + width]`.
    @inline(__always)
    static func weightedSum(_ c: UnsafePointer<Float>, cStride: Int = 1, rows: UnsafePointer<Float>, stride: Int, count: Int,
                            width: Int, into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let src = UnsafeRawPointer(rows), dst = UnsafeMutableRawPointer(out)
        var e = 0
        while e + 64 <= width {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            for j in 0..<count {
                let w = V(repeating: c[j * cStride]), o = (j * stride + e) * 4
                a0.addProduct(w, src.loadUnaligned(fromByteOffset: o, as: V.self))
                a1.addProduct(w, src.loadUnaligned(fromByteOffset: o + 64, as: V.self))
                a2.addProduct(w, src.loadUnaligned(fromByteOffset: o + 128, as: V.self))
                a3.addProduct(w, src.loadUnaligned(fromByteOffset: o + 192, as: V.self))
            }
            if accumulate {
                a0 += dst.loadUnaligned(fromByteOffset: e * 4, as: V.self)
                a1 += dst.loadUnaligned(fromByteOffset: e * 4 + 64, as: V.self)
                a2 += dst.loadUnaligned(fromByteOffset: e * 4 + 128, as: V.self)
                a3 += dst.loadUnaligned(fromByteOffset: e * 4 + 192, as: V.self)
            }
            dst.storeBytes(of: a0, toByteOffset: e * 4, as: V.self)
            dst.storeBytes(of: a1, toByteOffset: e * 4 + 64, as: V.self)
            dst.storeBytes(of: a2, toByteOffset: e * 4 + 128, as: V.self)
            dst.storeBytes(of: a3, toByteOffset: e * 4 + 192, as: V.self)
            e += 64
        }
        while e + 16 <= width {
            var a = V()
            for j in 0..<count {
                a.addProduct(V(repeating: c[j * cStride]), src.loadUnaligned(fromByteOffset: (j * stride + e) * 4, as: V.self))
            }
            if accumulate { a += dst.loadUnaligned(fromByteOffset: e * 4, as: V.self) }
            dst.storeBytes(of: a, toByteOffset: e * 4, as: V.self)
            e += 16
        }
        while e < width {
            var a: Float = 0
            for j in 0..<count { a += c[j * cStride] * rows[j * stride + e] }
            out[e] = accumulate ? out[e] + a : a
            e += 1
        }
    }
}
