import XCTest
@testable import LoomKernels

/// The batched-product micro-kernel (tokens in lanes, weights broadcast) against a naive
/// double-precision product on random data, for every row count of a register block, both
/// lane widths, several token blocks and partial blocks.
final class BatchMicroKernelTests: XCTestCase {
    func randomFloats(_ n: Int, seed: inout UInt64) -> [Float] {
        (0..<n).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
    }

    /// Runs the kernel over all `tokens` (as ``MatMul`` does, a block of `lanes` at a time) and returns y[t][r] (rows of width `ldy`, unwritten entries NaN).
    func run(_ w: [Float], rows: Int, columns: Int, _ x: [Float], tokens: Int, lanes: Int, ldy: Int, firstRow: Int) -> [Float] {
        var xt = [Float](repeating: .nan, count: BatchMicroKernel.transposedCount(tokens: tokens, columns: columns, lanes: lanes))
        var y = [Float](repeating: .nan, count: tokens * ldy)
        x.withUnsafeBufferPointer { xb in
            xt.withUnsafeMutableBufferPointer { BatchMicroKernel.transpose(xb.baseAddress!, tokens: tokens, columns: columns, lanes: lanes, into: $0.baseAddress!) }
        }
        w.withUnsafeBufferPointer { wb in
            xt.withUnsafeBufferPointer { xtb in
                y.withUnsafeMutableBufferPointer { yb in
                    var t0 = 0
                    while t0 < tokens {
                        let take = min(tokens - t0, lanes)
                        BatchMicroKernel.multiply(
                            wb.baseAddress!, rows: rows, columns: columns, xtb.baseAddress! + t0 * columns, lanes: lanes,
                            tokens: take, into: yb.baseAddress!, ldy: ldy, firstRow: firstRow, firstToken: t0)
                        t0 += take
                    }
                }
            }
        }
        return y
    }

    func testAgainstNaiveProduct() {
        var seed: UInt64 = 42
        for (columns, tokens) in [(16, 1), (45, 3), (64, 8), (96, 9), (33, 16), (128, 17), (80, 32), (64, 40), (576, 35)] {
            let lanes = BatchMicroKernel.lanes(tokens: tokens)
            for rows in 1...BatchMicroKernel.rowBlock(lanes: lanes) {
                let w = randomFloats(rows * columns, seed: &seed)
                let x = randomFloats(tokens * columns, seed: &seed)
                let ldy = rows + 5, firstRow = 3
                let y = run(w, rows: rows, columns: columns, x, tokens: tokens, lanes: lanes, ldy: ldy, firstRow: firstRow)
                for t in 0..<tokens {
                    for c in 0..<ldy {
                        let got = y[t * ldy + c]
                        guard c >= firstRow, c < firstRow + rows else {
                            XCTAssertTrue(got.isNaN, "wrote outside its rows: token \(t) column \(c)")
                            continue
                        }
                        let r = c - firstRow
                        var s = 0.0
                        for k in 0..<columns { s += Double(w[r * columns + k]) * Double(x[t * columns + k]) }
                        XCTAssertEqual(Double(got), s, accuracy: 1e-5 * Double(columns),
                                       "columns \(columns) tokens \(tokens) rows \(rows) token \(t) row \(r)")
                    }
                }
            }
        }
    }

    /// A token's outputs are bit-identical whether it is evaluated alone, in a block of 8
    /// or in a block of 16, and whichever register block (8 rows, or 6 and 4 on 256-bit
    /// vectors) its row falls in (batched results must not depend on the batch).
    func testResultsDoNotDependOnBatchComposition() {
        var seed: UInt64 = 9
        let columns = 200, rows = BatchMicroKernel.rowBlock(lanes: 16), tokens = 37
        let w = randomFloats(rows * columns, seed: &seed)
        let x = randomFloats(tokens * columns, seed: &seed)
        let all = run(w, rows: rows, columns: columns, x, tokens: tokens, lanes: 16, ldy: rows, firstRow: 0)
        for t in [0, 15, 16, 31, 36] {
            let one = Array(x[(t * columns)..<((t + 1) * columns)])
            let alone = run(w, rows: rows, columns: columns, one, tokens: 1, lanes: 8, ldy: rows, firstRow: 0)
            XCTAssertEqual(alone, Array(all[(t * rows)..<((t + 1) * rows)]), "token \(t)")
        }
        // Each row alone and the last rows as a 4-row block give the same bits as the full block.
        for first in 0..<rows {
            let count = min(4, rows - first)
            let part = Array(w[(first * columns)..<((first + count) * columns)])
            let got = run(part, rows: count, columns: columns, x, tokens: tokens, lanes: 16, ldy: rows, firstRow: first)
            for t in 0..<tokens {
                for r in first..<(first + count) { XCTAssertEqual(got[t * rows + r], all[t * rows + r], "rows from \(first), token \(t) row \(r)") }
            }
        }
    }

    func testTransposeLayoutAndZeroPadding() {
        let tokens = 3, columns = 5
        let x = (0..<(tokens * columns)).map { Float($0 + 1) }
        var xt = [Float](repeating: .nan, count: BatchMicroKernel.transposedCount(tokens: tokens, columns: columns, lanes: 8))
        XCTAssertEqual(xt.count, 8 * columns)
        x.withUnsafeBufferPointer { xb in
            xt.withUnsafeMutableBufferPointer { BatchMicroKernel.transpose(xb.baseAddress!, tokens: tokens, columns: columns, lanes: 8, into: $0.baseAddress!) }
        }
        for k in 0..<columns {
            for l in 0..<8 {
                XCTAssertEqual(xt[k * 8 + l], l < tokens ? x[l * columns + k] : 0, "column \(k) lane \(l)")
            }
        }
    }

    /// Through ``MatMul``: batches of 16 or more tokens take this kernel; grouped targets
    /// with biases, rows not a multiple of 8, several chunks and both thread counts.
    func testMatMulLargeBatchesAgainstNaive() {
        var seed: UInt64 = 77
        for (rows, columns, tokens, threads) in [(45, 96, 16, 2), (70, 64, 37, 2), (19, 48, 20, 1)] {
            let w = randomFloats(rows * columns, seed: &seed)
            let w2 = randomFloats(24 * columns, seed: &seed)
            let bias = randomFloats(rows, seed: &seed)
            let x = randomFloats(tokens * columns, seed: &seed)
            var y = [Float](repeating: .nan, count: tokens * rows)
            var y2 = [Float](repeating: .nan, count: tokens * 24)
            let pool = ThreadPool(threadCount: threads)
            w.withUnsafeBytes { wb in w2.withUnsafeBytes { w2b in bias.withUnsafeBufferPointer { bb in
                y.withUnsafeMutableBufferPointer { yb in y2.withUnsafeMutableBufferPointer { y2b in
                    MatMul.multiply(
                        MatMulTarget(WeightMatrix(type: .f32, rows: rows, columns: columns, base: wb.baseAddress!), yb.baseAddress!, bias: bb.baseAddress!),
                        MatMulTarget(WeightMatrix(type: .f32, rows: 24, columns: columns, base: w2b.baseAddress!), y2b.baseAddress!),
                        nil, x, tokens: tokens, pool: pool)
                }}
            }}}
            for t in 0..<tokens {
                for r in 0..<rows {
                    var s = Double(bias[r])
                    for k in 0..<columns { s += Double(w[r * columns + k]) * Double(x[t * columns + k]) }
                    XCTAssertEqual(Double(y[t * rows + r]), s, accuracy: 1e-5 * Double(columns), "tokens \(tokens) token \(t) row \(r)")
                }
                for r in 0..<24 {
                    var s = 0.0
                    for k in 0..<columns { s += Double(w2[r * columns + k]) * Double(x[t * columns + k]) }
                    XCTAssertEqual(Double(y2[t * 24 + r]), s, accuracy: 1e-5 * Double(columns), "second target, token \(t) row \(r)")
                }
            }
        }
    }
}
