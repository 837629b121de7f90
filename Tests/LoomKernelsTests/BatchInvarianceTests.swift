import XCTest
@testable import LoomKernels

/// Batch-invariant products (``KernelOptions/batchInvariant``, the default): a row's result
/// does not depend on the other rows of its batch. Decode rows must equal a one-token product
/// of the same row bit for bit; prompt rows must equal the same row in any other prompt batch.
final class BatchInvarianceTests: XCTestCase {
    /// Every stored format, each through the kernel family a one-token product picks for it.
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
                                    .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .tq1_0, .tq2_0]
    // 512 columns hold whole K-quant and ternary blocks; 70 rows leave remainders of every
    // row group (4, 8, 16, 64).
    static let rows = 70, columns = 512

    /// Products of `tokens` rows of `x` with three matrices of mixed formats in one dispatch
    /// (the second with a bias), as the decoder's Q/K/V dispatch runs them.
    func multiply(_ types: [GGMLType], _ weights: [[UInt8]], bias: [Float], _ x: [Float], tokens: Int, batch: BatchRows,
                  threads: Int, options: KernelOptions = .default) -> [[Float]] {
        var y0 = [Float](repeating: .nan, count: Self.rows * tokens), y1 = y0, y2 = y0
        weights[0].withUnsafeBytes { w0 in
            weights[1].withUnsafeBytes { w1 in
                weights[2].withUnsafeBytes { w2 in
                    let m = [w0, w1, w2].enumerated().map {
                        WeightMatrix(type: types[$0.offset], rows: Self.rows, columns: Self.columns, base: $0.element.baseAddress!)
                    }
                    y0.withUnsafeMutableBufferPointer { o0 in
                        y1.withUnsafeMutableBufferPointer { o1 in
                            y2.withUnsafeMutableBufferPointer { o2 in
                                bias.withUnsafeBufferPointer { b in
                                    MatMul.multiply(MatMulTarget(m[0], o0.baseAddress!), MatMulTarget(m[1], o1.baseAddress!, bias: b.baseAddress),
                                                    MatMulTarget(m[2], o2.baseAddress!), x, tokens: tokens,
                                                    pool: ThreadPool(threadCount: threads), batch: batch, options: options)
                                }
                            }
                        }
                    }
                }
            }
        }
        return [y0, y1, y2]
    }

    /// Dispatches of three formats each, covering every format: the same format three
    /// times, and mixes (integer with float kernels, ternary with integer).
    var dispatches: [[GGMLType]] {
        Self.types.map { [$0, $0, $0] } + [[.q4_1, .f16, .q8_0], [.q6_K, .q4_K, .q4_0], [.tq2_0, .q5_0, .bf16]]
    }

    func testDecodeRowsEqualOneTokenProducts() {
        var rng = SplitMix64(seed: 2026)
        for types in dispatches {
            let weights = types.map { TestData.randomRow($0, count: Self.rows * Self.columns, &rng) }
            let bias = TestData.randomFloats(Self.rows, &rng)
            for tokens in [2, 3, 8, 9, 17] {
                let x = TestData.randomFloats(tokens * Self.columns, &rng)
                for threads in [1, 2] {
                    let batch = multiply(types, weights, bias: bias, x, tokens: tokens, batch: .decode, threads: threads)
                    for t in 0..<tokens {
                        let row = Array(x[t * Self.columns..<(t + 1) * Self.columns])
                        let alone = multiply(types, weights, bias: bias, row, tokens: 1, batch: .decode, threads: threads)
                        for m in 0..<3 {
                            assertBitwiseEqual(Array(batch[m][t * Self.rows..<(t + 1) * Self.rows]), alone[m],
                                               "\(types[m]) (dispatch \(types)), token \(t) of \(tokens), \(threads) threads")
                        }
                    }
                }
            }
        }
    }

    func testPromptRowsDoNotDependOnTheBatch() {
        var rng = SplitMix64(seed: 1958)
        let whole = 40
        for types in dispatches {
            let weights = types.map { TestData.randomRow($0, count: Self.rows * Self.columns, &rng) }
            let bias = TestData.randomFloats(Self.rows, &rng)
            let x = TestData.randomFloats(whole * Self.columns, &rng)
            let reference = multiply(types, weights, bias: bias, x, tokens: whole, batch: .prompt, threads: 2)
            // Sub-batches of every size class: one row, the small-batch sizes, one lane
            // group and beyond, at offsets that move rows between lanes.
            for (start, count) in [(0, 1), (7, 1), (3, 2), (5, 5), (11, 8), (1, 15), (20, 16), (6, 33)] {
                let part = Array(x[start * Self.columns..<(start + count) * Self.columns])
                for threads in [1, 2] {
                    let got = multiply(types, weights, bias: bias, part, tokens: count, batch: .prompt, threads: threads)
                    for m in 0..<3 {
                        assertBitwiseEqual(got[m], Array(reference[m][start * Self.rows..<(start + count) * Self.rows]),
                                           "\(types[m]) (dispatch \(types)), rows \(start)..<\(start + count), \(threads) threads")
                    }
                }
            }
        }
    }

    /// Without the option, decode batches take the small-batch kernels, which round
    /// otherwise: the reason the option exists (and proof the test above can fail). The lane
    /// kernel (≤ 8 tokens) rounds otherwise for the signed formats; for Q4_1 it is the one-token
    /// arithmetic where the byte dot is not native (OffsetIntegerKernelTests), so Q4_1 is
    /// checked at 12 tokens, which take ``IntegerBatchKernels``.
    func testSmallBatchKernelsAreNotBatchInvariant() {
        var rng = SplitMix64(seed: 7)
        for (type, tokens) in [(GGMLType.q4_0, 8), (.q8_0, 8), (.q4_1, 12)] {
            let types = [type, type, type]
            let weights = types.map { TestData.randomRow($0, count: Self.rows * Self.columns, &rng) }
            let bias = TestData.randomFloats(Self.rows, &rng)
            let x = TestData.randomFloats(tokens * Self.columns, &rng)
            let batch = multiply(types, weights, bias: bias, x, tokens: tokens, batch: .decode, threads: 2, options: .smallBatchKernels)
            let alone = multiply(types, weights, bias: bias, Array(x[..<Self.columns]), tokens: 1, batch: .decode, threads: 2)
            XCTAssertNotEqual(Array(batch[0][..<Self.rows]).map(\.bitPattern), alone[0].map(\.bitPattern), "\(type), \(tokens) tokens")
            for r in 0..<Self.rows { XCTAssertEqual(batch[0][r], alone[0][r], accuracy: 1e-3 * max(1, abs(alone[0][r])), "\(type)") }
        }
    }
}
