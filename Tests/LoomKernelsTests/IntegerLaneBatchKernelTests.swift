import XCTest
@testable import LoomKernels

/// Decode steps of 2–8 tokens through ``IntegerLaneBatchKernel`` (via `MatMul`, as the server
/// runs them): every token's outputs against a Double sum over the reference-dequantised row
/// and that token's dequantised 10-bit activation codes, for every format the kernel takes,
/// with row counts that leave partial register blocks and tiles (700 rows: several 64-row
/// tiles per claimed chunk), a bias, one and two threads.
final class IntegerLaneBatchKernelTests: XCTestCase {
    func testSupportedTypes() {
        XCTAssertEqual(Set(GGMLType.allCases.filter { IntegerLaneBatchKernel.supports($0) }), [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0])
    }

    func testDecodeStepsMatchReference() {
        var rng = SplitMix64(seed: 91)
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] {
            for (rows, columns) in [(37, 64), (21, 160), (8, 576), (700, 64)] {
                let bytes = TestData.randomRow(type, count: rows * columns, &rng)
                let dense = ReferenceKernels.dequantize(type, bytes, count: rows * columns)
                let bias = (0..<rows).map { _ in Float.random(in: -1...1, using: &rng) }
                for tokens in [2, 3, 5, 8] {
                    let x = TestData.randomFloats(columns * tokens, &rng)
                    for threads in [1, 2] {
                        var y = [Float](repeating: .nan, count: rows * tokens)
                        bytes.withUnsafeBytes { raw in
                            let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
                            bias.withUnsafeBufferPointer { b in
                                y.withUnsafeMutableBufferPointer { out in
                                    MatMul.multiply(MatMulTarget(w, out.baseAddress!, bias: b.baseAddress), nil, nil, x, tokens: tokens,
                                                    pool: ThreadPool(threadCount: threads), batch: .decode, options: .smallBatchKernels)
                                }
                            }
                        }
                        for t in 0..<tokens {
                            let single = QuantizedActivations()
                            x.withUnsafeBufferPointer { single.quantize($0.baseAddress! + t * columns, count: columns) }
                            let xq = (0..<columns).map { Float(single.codes[$0]) * single.scales[$0 / 32] }
                            for r in 0..<rows {
                                let want = referenceDot(Array(dense[r * columns..<(r + 1) * columns]), xq)
                                assertDot(y[t * rows + r] - bias[r], (want.sum, want.magnitude + abs(Double(bias[r]))),
                                          "\(type) \(rows)×\(columns), token \(t) of \(tokens), row \(r), \(threads) threads")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The lane kernel and the batch kernels it replaces give the same products (to float
    /// rounding), and switching it off really takes the other path.
    func testAgreesWithBatchKernels() {
        var rng = SplitMix64(seed: 92)
        let rows = 40, columns = 576, tokens = 6
        let bytes = TestData.randomRow(.q4_1, count: rows * columns, &rng)
        let x = TestData.randomFloats(columns * tokens, &rng)
        func run(lane: Bool) -> [Float] {
            var options = KernelOptions.smallBatchKernels
            options.laneBatch = lane
            var y = [Float](repeating: .nan, count: rows * tokens)
            bytes.withUnsafeBytes { raw in
                let w = WeightMatrix(type: .q4_1, rows: rows, columns: columns, base: raw.baseAddress!)
                MatMul.multiply(w, x, tokens: tokens, into: &y, pool: ThreadPool(threadCount: 2), batch: .decode, options: options)
            }
            return y
        }
        let lane = run(lane: true), batch = run(lane: false)
        var differ = false
        for i in lane.indices {
            XCTAssertEqual(lane[i], batch[i], accuracy: 1e-4 * max(1, abs(batch[i])), "output \(i)")
            if lane[i] != batch[i] { differ = true }
        }
        XCTAssertTrue(differ, "the two paths should differ in float summation order somewhere")
    }

    /// Software prefetch of the weight rows is only a hint: lane-kernel steps and
    /// single-token products give bit-identical outputs with it switched off.
    func testPrefetchDoesNotChangeResults() {
        var rng = SplitMix64(seed: 93)
        let rows = 1100, columns = 256
        for type in [GGMLType.q4_1, .q8_0, .f16] {
            let bytes = TestData.randomRow(type, count: rows * columns, &rng)
            for tokens in [1, 8] {
                let x = TestData.randomFloats(columns * tokens, &rng)
                func run(prefetch: Bool) -> [Float] {
                    var options = KernelOptions.smallBatchKernels
                    if !prefetch { (options.lanePrefetchDistance, options.decodePrefetchDistance, options.longRunPrefetchDistance) = (0, 0, 0) }
                    var y = [Float](repeating: .nan, count: rows * tokens)
                    bytes.withUnsafeBytes { raw in
                        let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
                        MatMul.multiply(w, x, tokens: tokens, into: &y, pool: ThreadPool(threadCount: 2), batch: .decode, options: options)
                    }
                    return y
                }
                XCTAssertEqual(run(prefetch: true).map(\.bitPattern), run(prefetch: false).map(\.bitPattern), "\(type), \(tokens) tokens")
            }
        }
    }
}
