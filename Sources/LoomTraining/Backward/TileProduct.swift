/// The small dense products inside ``TiledAttention`` (`P·V`, `dS·K`, `dSᵀ·Q`, `Pᵀ·dO` for
/// one tile of query rows): `C[rows × width] (+)= A[rows × depth] · B[depth × width]`, where
/// `A`'s element `(r, k)` is at `a[r·rowStride + k·depthStride]` (so `A` may be a strip read
/// transposed), `B`'s row `k` at `b + k·bStride` and `C`'s row `r` at `c + r·cStride`.
///
/// Six rows × 16 columns of `C` are kept in 12 AVX2 registers while `depth` rows of `B`
/// stream past (the micro-kernel shape of ``TrainingGEMM``), so each loaded vector of `B`
/// feeds six multiply-adds. A row-at-a-time weighted sum (``RowSums``) reads every vector of
/// `B` once per row of `C` instead: the tile's `P·V` then streamed `V` from L2 sixteen times,
/// which is why the attention forward took longer than its backward (which has twice the
/// products).
enum TileProduct {
    typealias V = SIMD16<Float>

    /// `width` must be a multiple of 16.
    static func multiply(
        _ a: UnsafePointer<Float>, rowStride: Int, depthStride: Int, rows: Int, depth: Int,
        _ b: UnsafePointer<Float>, bStride: Int, width: Int,
        into c: UnsafeMutablePointer<Float>, cStride: Int, accumulate: Bool
    ) {
        precondition(width % 16 == 0, "TileProduct: width \(width) is not a multiple of 16")
        var r0 = 0
        while r0 < rows {
            let count = min(6, rows - r0)
            var e = 0
            while e < width {
                kernel(a + r0 * rowStride, rowStride: rowStride, depthStride: depthStride, rows: count, depth: depth,
                       b + e, bStride: bStride, into: c + r0 * cStride + e, cStride: cStride, accumulate: accumulate)
                e += 16
            }
            r0 += count
        }
    }

    /// Up to six rows × 16 columns. Missing rows repeat the last real one (their sums are
    /// not stored).
    @inline(__always)
    static func kernel(
        _ a: UnsafePointer<Float>, rowStride: Int, depthStride: Int, rows: Int, depth: Int,
        _ b: UnsafePointer<Float>, bStride: Int, into c: UnsafeMutablePointer<Float>, cStride: Int, accumulate: Bool
    ) {
        var p0 = a, p1 = a + min(1, rows - 1) * rowStride, p2 = a + min(2, rows - 1) * rowStride
        var p3 = a + min(3, rows - 1) * rowStride, p4 = a + min(4, rows - 1) * rowStride, p5 = a + min(5, rows - 1) * rowStride
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        var pb = UnsafeRawPointer(b)
        let step = bStride * 4
        for _ in 0..<depth {
            let v = pb.loadUnaligned(as: V.self)
            c0.addProduct(V(repeating: p0.pointee), v)
            c1.addProduct(V(repeating: p1.pointee), v)
            c2.addProduct(V(repeating: p2.pointee), v)
            c3.addProduct(V(repeating: p3.pointee), v)
            c4.addProduct(V(repeating: p4.pointee), v)
            c5.addProduct(V(repeating: p5.pointee), v)
            p0 += depthStride; p1 += depthStride; p2 += depthStride
            p3 += depthStride; p4 += depthStride; p5 += depthStride
            pb += step
        }
        store(c0, c, accumulate)
        if rows > 1 { store(c1, c + cStride, accumulate) }
        if rows > 2 { store(c2, c + 2 * cStride, accumulate) }
        if rows > 3 { store(c3, c + 3 * cStride, accumulate) }
        if rows > 4 { store(c4, c + 4 * cStride, accumulate) }
        if rows > 5 { store(c5, c + 5 * cStride, accumulate) }
    }

    @inline(__always)
    static func store(_ acc: V, _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        let p = UnsafeMutableRawPointer(c)
        p.storeBytes(of: accumulate ? p.loadUnaligned(as: V.self) + acc : acc, as: V.self)
    }
}
