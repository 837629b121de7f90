import LoomKernels

/// The large float products of a training step on a stored weight `W` (`[rows × columns]`,
/// F32, F16, BF16 or any GGUF block format): `C (+)= A·Wᵀ` (the frozen forward `y = x·Wᵀ`
/// and the LM head's logits) and `C (+)= A·W` (the input gradient `dx = dy·W`), with `A` a
/// row-major float matrix of `m` rows (the tokens).
///
/// The loop nest is the one of BLIS (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly
/// Instantiating BLAS Functionality", ACM TOMS 2015; Goto & van de Geijn, "Anatomy of
/// High-Performance Matrix Multiplication", ACM TOMS 2008): `A` is packed once into
/// micro-panels of ``mr`` rows (`[k][mr]`, zero-padded), the weight is dequantised straight
/// into packed panels of ``nr`` columns (`[k][nr]`) one ``kc``-deep slice of a worker's
/// columns at a time, and a register-blocked ``mr`` × ``nr`` micro-kernel (12 of the 16 AVX2
/// registers as accumulators) multiplies a micro-panel of `A` with one of the weight. The
/// weight is never expanded whole: each worker holds `kc × 128` floats of it.
///
/// Workers own disjoint column ranges of `C`, so no two write the same element, and every
/// output is summed in the same order whatever the thread count.
public enum TrainingGEMM {
    /// Rows of `A` (tokens) per micro-kernel call.
    static let mr = 6
    /// Columns of `C` per micro-kernel call (two 8-lane AVX2 registers per row).
    static let nr = 16
    /// The deepest packed slice: a weight micro-panel (`kc × nr` floats, 20 KB) stays in L1
    /// while it meets every micro-panel of `A`. A multiple of the 32-element blocks (K-quants' 256-element blocks slice at 256).
    /// Each product's depth is cut into equal slices of at most this (``sliceDepth(_:blockSize:)``).
    static let kc = 320
    /// Rows of `A` per pass over a packed slice: `mc × kc` floats (≈ 144 KB) stay in L2
    /// next to the slice.
    static let mc = 144
    /// The most micro-panels (of ``nr`` columns) a worker packs at a time.
    static let maxPanels = 8

    /// How `W` enters the product.
    public enum Form: Sendable {
        /// `C[m × W.rows] = A[m × W.columns] · Wᵀ` (`nn.Linear`'s forward).
        case transposed
        /// `C[m × W.columns] = A[m × W.rows] · W` (`nn.Linear`'s input gradient).
        case plain
    }

    typealias V = SIMD16<Float>

    /// `C (+)= A·op(W) (+ bias)`. `A` is `[m × depth]` with row stride `lda`, `C` `[m × width]`
    /// with row stride `ldc`, where `depth`/`width` are `W.columns`/`W.rows` (`.transposed`)
    /// or `W.rows`/`W.columns` (`.plain`). `accumulate` adds to `C`, otherwise `C` is
    /// overwritten; `bias` (`width` values) is added when overwriting.
    public static func multiply(
        _ a: UnsafePointer<Float>, rows m: Int, lda: Int, _ w: WeightMatrix, form: Form,
        into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>? = nil, pool: ThreadPool
    ) {
        let depth = form == .transposed ? w.columns : w.rows
        let width = form == .transposed ? w.rows : w.columns
        precondition(lda >= depth && ldc >= width, "TrainingGEMM: row stride below the row length")
        guard m > 0, width > 0 else { return }
        if depth == 0 {
            if !accumulate {
                for i in 0..<m { for j in 0..<width { c[i * ldc + j] = bias?[j] ?? 0 } }
            }
            return
        }
        let blocks = (m + mr - 1) / mr
        let packedA = UnsafeMutablePointer<Float>.allocate(capacity: blocks * mr * depth)
        defer { packedA.deallocate() }
        pool.parallelFor(count: blocks, chunk: max(1, blocks / (pool.threadCount * 4))) { range, _ in
            for b in range { packA(a, lda: lda, rows: m, depth: depth, block: b, into: packedA + b * mr * depth) }
        }
        let panels = (width + nr - 1) / nr
        let rowScratch = rowScratchCount(w, form: form)
        // The pool runs the whole range at once with one thread (or few panels): take it
        // ``maxPanels`` at a time.
        pool.parallelFor(count: panels, chunk: maxPanels, minimumChunk: 1) { claimed, worker in
            let scratch = pool.scratch(worker: worker, count: kc * maxPanels * nr + rowScratch)
            var first = claimed.lowerBound
            while first < claimed.upperBound {
                let range = first..<min(claimed.upperBound, first + maxPanels)
                multiplyPanels(packedA, rows: m, depth: depth, w, form: form, panels: range, width: width, into: c, ldc: ldc,
                               accumulate: accumulate, bias: bias, packedB: scratch, row: scratch + kc * maxPanels * nr)
                first = range.upperBound
            }
        }
    }

    /// The columns of micro-panels `range` (at most ``maxPanels``) of `C`, for every row:
    /// one ``kc``-deep slice of the weight packed at a time into `packedB`.
    static func multiplyPanels(
        _ packedA: UnsafePointer<Float>, rows m: Int, depth: Int, _ w: WeightMatrix, form: Form, panels range: Range<Int>,
        width: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>?,
        packedB: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>
    ) {
        let n0 = range.lowerBound * nr
        let nc = min(width, range.upperBound * nr) - n0
        let slice = sliceDepth(depth, blockSize: w.type.blockSize)
        var k0 = 0
        while k0 < depth {
            let kb = min(slice, depth - k0)
            if form == .transposed {
                packTransposed(w, k0: k0, kb: kb, n0: n0, nc: nc, row: row, into: packedB)
            } else {
                packPlain(w, k0: k0, kb: kb, n0: n0, nc: nc, row: row, into: packedB)
            }
            let overwrite = k0 == 0 && !accumulate
            var m0 = 0
            while m0 < m {
                let mEnd = min(m, m0 + mc)
                for p in 0..<range.count {
                    let col = n0 + p * nr
                    let cols = min(nr, width - col)
                    var i0 = m0
                    while i0 < mEnd {
                        kernel(packedA + (i0 / mr) * mr * depth + k0 * mr, packedB + p * kb * nr, depth: kb,
                               c + i0 * ldc + col, ldc: ldc, rows: min(mr, m - i0), columns: cols,
                               overwrite: overwrite, bias: overwrite ? bias.map { $0 + col } : nil)
                        i0 += mr
                    }
                }
                m0 = mEnd
            }
            k0 += kb
        }
    }

    /// The depth of each packed slice for a product of depth `depth`: the slices are as equal
    /// as whole blocks allow, since every slice pays the micro-kernel's fixed cost (clearing,
    /// loading and storing its `C` tile) once. With 256-deep slices SmolLM2's depth of 576 left
    /// a 64-deep third slice; two of 288 cost less.
    static func sliceDepth(_ depth: Int, blockSize: Int) -> Int {
        let deepest = max(blockSize, kc / blockSize * blockSize)   // 320, or 256 for K-quants
        let slices = max(1, (depth + deepest - 1) / deepest)
        let even = (depth + slices - 1) / slices
        return min(deepest, (even + blockSize - 1) / blockSize * blockSize)
    }

    /// Floats of per-worker row scratch the packers need for `w`.
    static func rowScratchCount(_ w: WeightMatrix, form: Form) -> Int {
        // Transposed: one row's `kc` columns. Plain: a block-aligned cover of a worker's columns.
        form == .transposed ? kc : maxPanels * nr + 2 * w.type.blockSize
    }

    /// Micro-panel `block` of `A`: `packed[k·mr + i] = a[(block·mr + i)·lda + k]`, zero for rows past `rows`.
    static func packA(_ a: UnsafePointer<Float>, lda: Int, rows: Int, depth: Int, block: Int, into packed: UnsafeMutablePointer<Float>) {
        let first = block * mr
        let real = min(mr, rows - first)
        if real == mr {
            let r0 = a + first * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda
            var p = packed
            for k in 0..<depth {
                p[0] = r0[k]; p[1] = r1[k]; p[2] = r2[k]; p[3] = r3[k]; p[4] = r4[k]; p[5] = r5[k]
                p += mr
            }
            return
        }
        packed.initialize(repeating: 0, count: depth * mr)
        for i in 0..<real {
            let r = a + (first + i) * lda
            for k in 0..<depth { packed[k * mr + i] = r[k] }
        }
    }

    /// `.transposed`: `packed[(p·kb + k)·nr + j] = W[n0 + p·nr + j][k0 + k]` for the `nc`
    /// columns of `C` from `n0` (zero past them). `k0` is a multiple of the slice depth, so of the
    /// block size, and `kb` ends at a block boundary or the row's end.
    static func packTransposed(_ w: WeightMatrix, k0: Int, kb: Int, n0: Int, nc: Int, row: UnsafeMutablePointer<Float>,
                               into packed: UnsafeMutablePointer<Float>) {
        let byteOffset = w.type.byteCount(elements: k0)
        let panels = (nc + nr - 1) / nr
        for p in 0..<panels {
            let panel = packed + p * kb * nr
            let real = min(nr, nc - p * nr)
            if real < nr { panel.initialize(repeating: 0, count: kb * nr) }
            for j in 0..<real {
                RowKernels.dequantize(w.type, w.row(n0 + p * nr + j) + byteOffset, into: row, count: kb)
                var q = panel + j
                for k in 0..<kb {
                    q.pointee = row[k]
                    q += nr
                }
            }
        }
    }

    /// `.plain`: `packed[(p·kb + k)·nr + j] = W[k0 + k][n0 + p·nr + j]` (zero past `nc`).
    /// Each row's columns are dequantised over their block-aligned cover.
    static func packPlain(_ w: WeightMatrix, k0: Int, kb: Int, n0: Int, nc: Int, row: UnsafeMutablePointer<Float>,
                          into packed: UnsafeMutablePointer<Float>) {
        let block = w.type.blockSize
        let start = n0 / block * block
        let end = min(w.columns, (n0 + nc + block - 1) / block * block)
        let byteOffset = w.type.byteCount(elements: start)
        let skip = n0 - start
        let panels = (nc + nr - 1) / nr
        let tail = nc - (panels - 1) * nr
        if tail < nr {
            // The last panel's missing columns stay zero.
            (packed + (panels - 1) * kb * nr).initialize(repeating: 0, count: kb * nr)
        }
        let out = UnsafeMutableRawPointer(packed)
        for k in 0..<kb {
            RowKernels.dequantize(w.type, w.row(k0 + k) + byteOffset, into: row, count: end - start)
            let src = UnsafeRawPointer(row + skip)
            for p in 0..<(panels - 1) {
                out.storeBytes(of: src.loadUnaligned(fromByteOffset: p * nr * 4, as: V.self),
                               toByteOffset: ((p * kb + k) * nr) * 4, as: V.self)
            }
            let last = packed + ((panels - 1) * kb + k) * nr
            let from = row + skip + (panels - 1) * nr
            for j in 0..<tail { last[j] = from[j] }
        }
    }

    /// `C[0 ..< rows][0 ..< columns] (+)= Σₖ a[k·mr + i] · b[k·nr + j]` over `depth`, with
    /// `bias[j]` added when overwriting. Six rows × 16 columns in 12 accumulator registers.
    @inline(__always)
    static func kernel(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, depth: Int,
        _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, overwrite: Bool, bias: UnsafePointer<Float>?
    ) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V()
        var pa = a
        var pb = UnsafeRawPointer(b)
        for _ in 0..<depth {
            let v = pb.loadUnaligned(as: V.self)
            c0.addProduct(V(repeating: pa[0]), v)
            c1.addProduct(V(repeating: pa[1]), v)
            c2.addProduct(V(repeating: pa[2]), v)
            c3.addProduct(V(repeating: pa[3]), v)
            c4.addProduct(V(repeating: pa[4]), v)
            c5.addProduct(V(repeating: pa[5]), v)
            pa += mr
            pb += nr * 4
        }
        if rows == mr && columns == nr {
            let add = bias.map { UnsafeRawPointer($0).loadUnaligned(as: V.self) } ?? V()
            store(c0, c, overwrite, add)
            store(c1, c + ldc, overwrite, add)
            store(c2, c + 2 * ldc, overwrite, add)
            store(c3, c + 3 * ldc, overwrite, add)
            store(c4, c + 4 * ldc, overwrite, add)
            store(c5, c + 5 * ldc, overwrite, add)
            return
        }
        // An edge tile: through a tuple on the stack (no allocation per call).
        var acc = (c0, c1, c2, c3, c4, c5)
        withUnsafeBytes(of: &acc) { raw in
            let sums = raw.bindMemory(to: Float.self)
            for i in 0..<rows {
                let out = c + i * ldc
                for j in 0..<columns {
                    let s = sums[i * nr + j]
                    out[j] = overwrite ? s + (bias?[j] ?? 0) : out[j] + s
                }
            }
        }
    }

    @inline(__always)
    static func store(_ acc: V, _ c: UnsafeMutablePointer<Float>, _ overwrite: Bool, _ bias: V) {
        let p = UnsafeMutableRawPointer(c)
        p.storeBytes(of: overwrite ? acc + bias : p.loadUnaligned(as: V.self) + acc, as: V.self)
    }
}
