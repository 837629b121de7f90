import LoomKernels

/// The `Float` fast path of ``AttentionOp``: the same causal GQA forward and backward, in
/// tiles of ``rowTile`` query rows of one head, spread over a ``ThreadPool``.
///
/// Scores are computed against keys transposed once per call (`Kᵀ`, `Vᵀ` per KV head,
/// `[headDim × n]`), 16 keys per vector and four query rows at a time, so no horizontal sums
/// are needed; the products over keys (`P·V`, `dS·K`, `Pᵀ·dO`, `dSᵀ·Q`) take a whole tile
/// at a time through a register-blocked kernel (``TileProduct``). The only buffers beyond the
/// inputs are a `rowTile × n` strip of probabilities (and of `dS` in the backward pass) per
/// worker, and, in the backward pass, each worker's own `dK`/`dV` (`n × kvDim`, summed at the
/// end): work items are (head, query tile) pairs, so two workers may add to the same key.
///
/// The backward pass recomputes `p_ij = exp(s_ij − lse_i)` from the saved log-sum-exp
/// (FlashAttention-2's backward, Dao 2023, arXiv:2307.08691). Needs `headDim` a multiple of
/// 16 (``supports(_:)``); ``AttentionOp``'s scalar path is the reference it is tested against.
public struct TiledAttention {
    public let op: AttentionOp
    /// Query rows per work item.
    static let rowTile = 32
    typealias V = SIMD16<Float>

    public init(_ op: AttentionOp) { self.op = op }

    /// Whether the tiled kernels handle `op`'s head size.
    public static func supports(_ op: AttentionOp) -> Bool { op.headDim % 16 == 0 && op.headDim > 0 }

    /// `n` rounded up to whole vectors of keys.
    static func padded(_ n: Int) -> Int { (n + 15) / 16 * 16 }

    /// The row stride (in floats) of the transposed keys and values and of the strips: at
    /// least ``padded(_:)``, and an odd number of 64-byte lines. The score loop reads one
    /// vector from each of `headDim` consecutive rows of `Kᵀ`, and `dK`/`dV` read the strips
    /// down their columns; with a power-of-two stride (2 KB at 512 tokens) all those lines
    /// fall into two of L1's 64 sets and evict each other. An odd line count spreads them
    /// over every set (one core, 512 tokens, SmolLM2 heads: forward 7.3 → 6.2 ms, backward
    /// 16.7 → 15.0 ms; `scripts/bench_training_attention.swift`).
    static func rowStride(_ n: Int) -> Int {
        let lines = padded(n) / 16
        return (lines % 2 == 0 ? lines + 1 : lines) * 16
    }

    /// `[kvHeads][headDim × rowStride(n)]`: each KV head's rows of `x` transposed, zero past `n`.
    static func transposed(_ x: UnsafePointer<Float>, n: Int, kvHeads: Int, headDim: Int) -> UnsafeMutablePointer<Float> {
        let np = rowStride(n), kvDim = kvHeads * headDim
        let t = UnsafeMutablePointer<Float>.allocate(capacity: max(1, kvHeads * headDim * np))
        t.initialize(repeating: 0, count: max(1, kvHeads * headDim * np))
        for j in 0..<n {
            for g in 0..<kvHeads {
                let src = x + j * kvDim + g * headDim, dst = t + g * headDim * np + j
                for e in 0..<headDim { dst[e * np] = src[e] }
            }
        }
        return t
    }

    /// Score strips for `rows` (≤ 4) query rows from `q` (row stride `qStride`) and keys
    /// `j0 ..< j1` (a whole number of vectors): `dst[r·dstStride + j] = q_r · Kᵀ[·, j]`, read
    /// from the transposed keys `kt` (row stride `np`). Each key vector is loaded once for the
    /// four rows.
    @inline(__always)
    static func scores(_ q: UnsafePointer<Float>, qStride: Int, rows: Int, kt: UnsafePointer<Float>, np: Int, headDim: Int,
                       keys j0: Int, _ j1: Int, into dst: UnsafeMutablePointer<Float>, dstStride: Int) {
        let k = UnsafeRawPointer(kt)
        var j = j0
        while j < j1 {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            for e in 0..<headDim {
                let kv = k.loadUnaligned(fromByteOffset: (e * np + j) * 4, as: V.self)
                a0.addProduct(V(repeating: q[e]), kv)
                if rows > 1 { a1.addProduct(V(repeating: q[qStride + e]), kv) }
                if rows > 2 { a2.addProduct(V(repeating: q[2 * qStride + e]), kv) }
                if rows > 3 { a3.addProduct(V(repeating: q[3 * qStride + e]), kv) }
            }
            let out = UnsafeMutableRawPointer(dst)
            out.storeBytes(of: a0, toByteOffset: j * 4, as: V.self)
            if rows > 1 { out.storeBytes(of: a1, toByteOffset: (dstStride + j) * 4, as: V.self) }
            if rows > 2 { out.storeBytes(of: a2, toByteOffset: (2 * dstStride + j) * 4, as: V.self) }
            if rows > 3 { out.storeBytes(of: a3, toByteOffset: (3 * dstStride + j) * 4, as: V.self) }
            j += 16
        }
    }

    /// `x` with the lanes row `i` may not see among keys `j ..< j + 16` (before its window,
    /// after itself) set to `value`. The mask is built with integer arithmetic and applied
    /// with bit operations: a `SIMDMask` and `replacing(with:where:)` compile to a
    /// lane-by-lane loop through the stack, which made the one masked vector of each row
    /// (the diagonal's) cost ≈ 10 % of the attention's time. The loops still call this
    /// only where ``sees(row:keys:first:)`` is false.
    @inline(__always)
    func masked(_ x: V, row i: Int, keys j: Int, with value: Float) -> V {
        let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &+ Int32(j)
        // Negative (sign bit set) exactly where the key is before the window or after the row.
        let outside = (lanes &- Int32(op.first(i))) | (Int32(i) &- lanes)
        let hiddenLanes = outside &>> 31   // all ones where hidden, zero where seen
        let bits = unsafeBitCast(x, to: SIMD16<Int32>.self)
        let fill = SIMD16<Int32>(repeating: Int32(bitPattern: value.bitPattern))
        return unsafeBitCast((bits & ~hiddenLanes) | (fill & hiddenLanes), to: V.self)
    }

    /// Whether row `i` sees all of keys `j ..< j + 16` (`first` is ``AttentionOp/first(_:)``
    /// of `i`): then the vector needs no mask.
    @inline(__always)
    static func sees(row i: Int, keys j: Int, first: Int) -> Bool { j + 15 <= i && j >= first }

    /// The backward pass's tiles (`head · tiles + tile`) for `slot` of `workers`. A causal
    /// tile's work grows with its index (tile `t` costs `t + 1`), so tiles go in pairs of
    /// equal work, `t` and `tiles − 1 − t` of a head (the middle tile of an odd count alone),
    /// and each unit goes to the slot with the least work so far, largest units first: the
    /// slots then differ by at most one pair. (Dealing single tiles in turn gave one slot
    /// every odd tile, the heavier half of every pair.) A fixed function of its arguments,
    /// so the partial sums do not depend on thread timing.
    static func slotTiles(slot: Int, workers: Int, tiles: Int, heads: Int) -> [Int] {
        var units: [(work: Int, items: [Int])] = []
        for h in 0..<heads {
            for t in 0..<tiles / 2 { units.append((tiles + 1, [h * tiles + t, h * tiles + tiles - 1 - t])) }
        }
        if tiles % 2 == 1 { for h in 0..<heads { units.append(((tiles + 1) / 2, [h * tiles + tiles / 2])) } }
        var load = [Int](repeating: 0, count: workers), mine: [Int] = []
        for unit in units {
            let target = load.indices.min { load[$0] < load[$1] }!
            load[target] += unit.work
            if target == slot { mine += unit.items }
        }
        return mine
    }

    /// The query tiles: (head, first row) pairs, `heads × ⌈n / rowTile⌉` of them.
    func tiles(_ n: Int) -> Int { op.heads * ((n + Self.rowTile - 1) / Self.rowTile) }

    /// ``AttentionOp/forward(q:k:v:n:out:lse:pool:)`` in tiles.
    public func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, n: Int,
                        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let heads = op.heads, hd = op.headDim, group = heads / op.kvHeads
        let qDim = heads * hd, kvDim = op.kvHeads * hd, np = Self.rowStride(n), tile = Self.rowTile
        let scale = 1 / Float(hd).squareRoot()
        let kt = Self.transposed(k, n: n, kvHeads: op.kvHeads, headDim: hd)
        defer { kt.deallocate() }
        let perTile = (n + tile - 1) / tile
        // Per worker: a strip of probabilities and its rows' 1/Σ.
        let strips = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount * (tile * np + tile))
        defer { strips.deallocate() }
        pool.parallelFor(count: tiles(n), chunk: 1) { range, worker in
            let p = strips + worker * (tile * np + tile), inverseTotals = p + tile * np
            for item in range {
                let h = item / perTile, i0 = (item % perTile) * tile, i1 = min(n, i0 + tile), g = h / group
                let j0 = op.first(i0) / 16 * 16, j1 = Self.padded(i1)
                var r = i0
                while r < i1 {
                    let rows = min(4, i1 - r)
                    Self.scores(q + r * qDim + h * hd, qStride: qDim, rows: rows, kt: kt + g * hd * np, np: np, headDim: hd,
                                keys: j0, j1, into: p + (r - i0) * np, dstStride: np)
                    r += rows
                }
                for i in i0..<i1 {
                    let row = UnsafeMutableRawPointer(p + (i - i0) * np), first = op.first(i)
                    var m = V(repeating: -.infinity)
                    var j = j0
                    while j < j1 {
                        let x = row.loadUnaligned(fromByteOffset: j * 4, as: V.self) * scale
                        let s = Self.sees(row: i, keys: j, first: first) ? x : masked(x, row: i, keys: j, with: -.infinity)
                        row.storeBytes(of: s, toByteOffset: j * 4, as: V.self)
                        m.replace(with: s, where: s .> m)   // not pointwiseMax: lane by lane through the stack
                        j += 16
                    }
                    let mx = m.max()
                    var sum = V()
                    j = j0
                    while j < j1 {
                        let x = VectorOps.exponential(row.loadUnaligned(fromByteOffset: j * 4, as: V.self) - mx)
                        let e = Self.sees(row: i, keys: j, first: first) ? x : masked(x, row: i, keys: j, with: 0)
                        row.storeBytes(of: e, toByteOffset: j * 4, as: V.self)
                        sum += e
                        j += 16
                    }
                    let total = sum.sum()
                    lse[i * heads + h] = mx + Float.logarithm(total)
                    inverseTotals[i - i0] = 1 / total
                }
                // O = P·V for the tile's rows (P is 0 past each row's last key), with P's rows
                // normalised afterwards: `hd` multiplies a row instead of one per key.
                let o = out + i0 * qDim + h * hd
                TileProduct.multiply(p + j0, rowStride: np, depthStride: 1, rows: i1 - i0, depth: min(j1, n) - j0,
                                     v + j0 * kvDim + g * hd, bStride: kvDim, width: hd,
                                     into: o, cStride: qDim, accumulate: false)
                for r in 0..<(i1 - i0) { VectorOps.scale(o + r * qDim, by: inverseTotals[r], count: hd) }
            }
        }
    }

    /// ``AttentionOp/backward(dOut:q:k:v:out:lse:n:dq:dk:dv:pool:)`` in tiles.
    public func backward(dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                         out: UnsafePointer<Float>, lse: UnsafePointer<Float>, n: Int,
                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                         pool: ThreadPool) {
        let heads = op.heads, hd = op.headDim, group = heads / op.kvHeads
        let qDim = heads * hd, kvDim = op.kvHeads * hd, np = Self.rowStride(n), tile = Self.rowTile
        let scale = 1 / Float(hd).squareRoot()
        let kt = Self.transposed(k, n: n, kvHeads: op.kvHeads, headDim: hd)
        let vt = Self.transposed(v, n: n, kvHeads: op.kvHeads, headDim: hd)
        defer { kt.deallocate(); vt.deallocate() }
        let perTile = (n + tile - 1) / tile
        let workers = pool.threadCount
        // Per worker: P and dS strips, and its own dK and dV.
        let stripCount = 2 * tile * np, gradCount = 2 * n * kvDim
        let buffers = UnsafeMutablePointer<Float>.allocate(capacity: workers * (stripCount + gradCount))
        defer { buffers.deallocate() }
        for w in 0..<workers { (buffers + w * (stripCount + gradCount) + stripCount).initialize(repeating: 0, count: gradCount) }
        // Slot w takes a fixed list of tiles (``slotTiles(slot:workers:tiles:heads:)``), in
        // order, into its own dK and dV, and the slots are summed in order below: the result
        // does not depend on which thread runs which slot or when. (Tiles claimed dynamically
        // made each worker's partial sums — so dK, dV and every gradient below them — differ
        // in the last bits from run to run.)
        pool.parallelFor(count: workers, chunk: 1) { slots, _ in
          for slot in slots {
            let base = buffers + slot * (stripCount + gradCount)
            let p = base, ds = base + tile * np, myDK = base + stripCount, myDV = myDK + n * kvDim
            for item in Self.slotTiles(slot: slot, workers: workers, tiles: perTile, heads: heads) {
                let h = item / perTile, i0 = (item % perTile) * tile, i1 = min(n, i0 + tile), g = h / group
                let j0 = op.first(i0) / 16 * 16, j1 = Self.padded(i1)
                var r = i0
                while r < i1 {
                    let rows = min(4, i1 - r)
                    Self.scores(q + r * qDim + h * hd, qStride: qDim, rows: rows, kt: kt + g * hd * np, np: np, headDim: hd,
                                keys: j0, j1, into: p + (r - i0) * np, dstStride: np)
                    Self.scores(dOut + r * qDim + h * hd, qStride: qDim, rows: rows, kt: vt + g * hd * np, np: np, headDim: hd,
                                keys: j0, j1, into: ds + (r - i0) * np, dstStride: np)
                    r += rows
                }
                for i in i0..<i1 {
                    let pRow = UnsafeMutableRawPointer(p + (i - i0) * np), dsRow = UnsafeMutableRawPointer(ds + (i - i0) * np)
                    let d = TrainingKernels.dot(dOut + i * qDim + h * hd, out + i * qDim + h * hd, count: hd)
                    let l = lse[i * heads + h], first = op.first(i)
                    var j = j0
                    while j < j1 {
                        let e = VectorOps.exponential(pRow.loadUnaligned(fromByteOffset: j * 4, as: V.self) * scale - l)
                        let pv = Self.sees(row: i, keys: j, first: first) ? e : masked(e, row: i, keys: j, with: 0)
                        let dp = dsRow.loadUnaligned(fromByteOffset: j * 4, as: V.self)
                        pRow.storeBytes(of: pv, toByteOffset: j * 4, as: V.self)
                        dsRow.storeBytes(of: pv * (dp - d) * scale, toByteOffset: j * 4, as: V.self)
                        j += 16
                    }
                }
                // dQ_i = Σ_j dS_ij K_j (dS is 0 past each row's last key).
                let keys = min(j1, n) - j0
                TileProduct.multiply(ds + j0, rowStride: np, depthStride: 1, rows: i1 - i0, depth: keys,
                                     k + j0 * kvDim + g * hd, bStride: kvDim, width: hd,
                                     into: dq + i0 * qDim + h * hd, cStride: qDim, accumulate: false)
                // dK_j += Σ_i dS_ij Q_i, dV_j += Σ_i P_ij dO_i over this tile's rows (the strips
                // read transposed; rows that do not see key j hold 0 there).
                let seen = min(i1, n) - j0
                TileProduct.multiply(ds + j0, rowStride: 1, depthStride: np, rows: seen, depth: i1 - i0,
                                     q + i0 * qDim + h * hd, bStride: qDim, width: hd,
                                     into: myDK + j0 * kvDim + g * hd, cStride: kvDim, accumulate: true)
                TileProduct.multiply(p + j0, rowStride: 1, depthStride: np, rows: seen, depth: i1 - i0,
                                     dOut + i0 * qDim + h * hd, bStride: qDim, width: hd,
                                     into: myDV + j0 * kvDim + g * hd, cStride: kvDim, accumulate: true)
            }
          }
        }
        // Sum the slots' dK and dV, in slot order.
        let size = n * kvDim
        for (target, offset) in [(dk, stripCount), (dv, stripCount + size)] {
            target.update(from: buffers + offset, count: size)
            for w in 1..<max(1, workers) {
                let src = buffers + w * (stripCount + gradCount) + offset
                for x in 0..<size { target[x] += src[x] }
            }
        }
    }
}
