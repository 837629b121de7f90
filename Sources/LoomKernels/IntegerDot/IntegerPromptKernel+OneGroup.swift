// ``IntegerPromptKernel`` for a single lane group of tokens (up to 8, or 16 with AVX-512
// VNNI): the shape of a batch of decode rows that takes the prompt kernel for its exact
// one-token arithmetic (Q8_0 LM heads, Q4_0/Q5_0/Q8_0 layers; MatMulEachToken.swift), such as
// a speculative verification of up to 7 drafts or a `--deterministic` server step.
//
// The two-group block of the main kernel shares each broadcast weight pair between two
// groups; with one group its second group is a copy of the first, half the work wasted.
// Here the register block is 8 rows × 1 group instead (per column pair one load of the
// tokens' pairs and eight broadcasts for eight multiply-adds, as ``IntegerLaneBatchKernel``),
// with exactly the main block's arithmetic per row and token: 32-bit sums per block, four
// float accumulators by block index mod 4, the blocks after the last whole group of four
// added one by one as ``pairwiseStep`` adds them.

extension IntegerPromptKernel {
    /// Rows per register block of ``oneGroupBlock``.
    static let oneGroupRowBlock = 8

    /// Up to 8 rows × one group of `G.lanes` tokens (`tokens` real ones); `wOffsets` and
    /// `xSums` as in ``block(_:_:_:_:rows:columns:_:_:_:groups:tokens:_:ldy:firstRow:bias:)``.
    @inline(__always)
    static func oneGroupBlock<G: PromptLaneGroup>(
        _: G.Type, _ codes: UnsafePointer<Int16>, _ wScales: UnsafePointer<Float>, _ wOffsets: UnsafePointer<Float>?, rows: Int, columns n: Int,
        _ pairs: UnsafeRawPointer, _ xScales: UnsafePointer<Float>, _ xSums: UnsafePointer<Float>, tokens: Int,
        _ y: UnsafeMutablePointer<Float>, ldy: Int, firstRow: Int, bias: UnsafePointer<Float>?
    ) {
        let groupLanes = G.lanes
        let blocks = n / 32
        // Missing rows repeat the last real one (their results are not stored).
        @inline(__always) func rowIndex(_ i: Int) -> Int { min(i, rows - 1) }
        let w0 = UnsafeRawPointer(codes), w1 = w0 + 2 * n * rowIndex(1), w2 = w0 + 2 * n * rowIndex(2)
        let w3 = w0 + 2 * n * rowIndex(3), w4 = w0 + 2 * n * rowIndex(4), w5 = w0 + 2 * n * rowIndex(5)
        let w6 = w0 + 2 * n * rowIndex(6), w7 = w0 + 2 * n * rowIndex(7)
        let xs = UnsafeRawPointer(xScales), xm = UnsafeRawPointer(xSums)
        typealias F = G.Floats
        // Float accumulators [row][block mod 4], as ``pairwiseDot``.
        var f = (F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(),
                 F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F(), F())
        // Per row: the four-way sum, then every block after the last whole group of four.
        var tail = (F(), F(), F(), F(), F(), F(), F(), F())
        let whole = blocks / 4 * 4
        withUnsafeMutableBytes(of: &f) { fb in
            let acc = fb.baseAddress!.assumingMemoryBound(to: F.self)
            withUnsafeMutableBytes(of: &tail) { tb in
                let rest = tb.baseAddress!.assumingMemoryBound(to: F.self)
                for b in 0..<blocks {
                    var a0 = G.Sums(), a1 = G.Sums(), a2 = G.Sums(), a3 = G.Sums()
                    var a4 = G.Sums(), a5 = G.Sums(), a6 = G.Sums(), a7 = G.Sums()
                    for p in (16 * b)..<(16 * b + 16) {
                        let v = G.load(pairs + 4 * groupLanes * p)
                        a0 = G.dot(a0, v, G.broadcast(w0.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a1 = G.dot(a1, v, G.broadcast(w1.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a2 = G.dot(a2, v, G.broadcast(w2.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a3 = G.dot(a3, v, G.broadcast(w3.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a4 = G.dot(a4, v, G.broadcast(w4.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a5 = G.dot(a5, v, G.broadcast(w5.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a6 = G.dot(a6, v, G.broadcast(w6.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                        a7 = G.dot(a7, v, G.broadcast(w7.loadUnaligned(fromByteOffset: 4 * p, as: UInt32.self)))
                    }
                    let d = xs.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                    let sums = (a0, a1, a2, a3, a4, a5, a6, a7)
                    withUnsafeBytes(of: sums) { sb in
                        let s = sb.baseAddress!.assumingMemoryBound(to: G.Sums.self)
                        if b < whole {
                            let j = b & 3
                            for i in 0..<8 { acc[4 * i + j].addProduct(G.floats(s[i]), F(repeating: wScales[blocks * rowIndex(i) + b]) * d) }
                            if let wOffsets {
                                let m = xm.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                                for i in 0..<8 { acc[4 * i + j].addProduct(F(repeating: wOffsets[blocks * rowIndex(i) + b]), m) }
                            }
                        } else {
                            // ``pairwiseStep``: Float(t)·(d·d_x + 0), added after the four-way sum.
                            if b == whole { for i in 0..<8 { rest[i] = (acc[4 * i] + acc[4 * i + 1]) + (acc[4 * i + 2] + acc[4 * i + 3]) } }
                            for i in 0..<8 { rest[i] = rest[i] + G.floats(s[i]) * (F(repeating: wScales[blocks * rowIndex(i) + b]) * d + 0) }
                            if let wOffsets {
                                let m = xm.loadUnaligned(fromByteOffset: 4 * groupLanes * b, as: F.self)
                                for i in 0..<8 { rest[i].addProduct(F(repeating: wOffsets[blocks * rowIndex(i) + b]), m) }
                            }
                        }
                    }
                }
                if whole == blocks { for i in 0..<8 { rest[i] = (acc[4 * i] + acc[4 * i + 1]) + (acc[4 * i + 2] + acc[4 * i + 3]) } }
            }
        }
        withUnsafeBytes(of: &tail) { tb in
            let out = tb.baseAddress!.assumingMemoryBound(to: Float.self)
            for r in 0..<rows {
                for t in 0..<tokens {
                    var v = out[r * groupLanes + t]
                    if let bias { v += bias[firstRow + r] }
                    y[t * ldy + firstRow + r] = v
                }
            }
        }
    }
}
