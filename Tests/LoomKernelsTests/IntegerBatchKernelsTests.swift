import XCTest
@testable import LoomKernels

/// The small-batch integer kernels (``IntegerBatchKernels``) and their activation layout
/// (``QuantizedActivationBatch``) against naive references on random inputs: every token's
/// result against a Double sum over the reference-dequantised row and that token's
/// dequantised activation codes, and against the single-token integer kernel.
final class IntegerBatchKernelsTests: XCTestCase {
    static let batchTypes: [GGMLType] = GGMLType.allCases.filter { IntegerBatchKernels.supports($0) }

    func testSupportedTypes() {
        XCTAssertEqual(Set(Self.batchTypes), [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0])
    }

    func testActivationLayout() {
        var rng = SplitMix64(seed: 11)
        let columns = 96, tokens = 3
        let x = TestData.randomFloats(columns * tokens, &rng)
        let batch = QuantizedActivationBatch()
        batch.quantize(x, columns: columns, tokens: tokens)
        let blocks = batch.blocks
        XCTAssertEqual(blocks.stride, tokens + 8)
        for t in 0..<tokens {
            // Each token quantised exactly as on its own.
            let single = QuantizedActivations()
            x.withUnsafeBufferPointer { single.quantize($0.baseAddress! + t * columns, count: columns) }
            for b in 0..<columns / 32 {
                XCTAssertEqual(blocks.scalesByBlock[b * blocks.stride + t], single.scales[b], "token \(t) block \(b) scale")
                XCTAssertEqual(blocks.sumsByBlock[b * blocks.stride + t], single.sums[b], "token \(t) block \(b) sum")
                for j in 0..<16 {
                    let pair = t * columns + 32 * b + 2 * j
                    XCTAssertEqual(blocks.pairs[pair], single.codes[32 * b + j], "token \(t) block \(b) code \(j)")
                    XCTAssertEqual(blocks.pairs[pair + 1], single.codes[32 * b + j + 16], "token \(t) block \(b) code \(j + 16)")
                }
            }
        }
        // Lanes past the last token are zero (eight-lane loads read them).
        for b in 0..<columns / 32 {
            for t in tokens..<blocks.stride {
                XCTAssertEqual(blocks.scalesByBlock[b * blocks.stride + t], 0)
                XCTAssertEqual(blocks.sumsByBlock[b * blocks.stride + t], 0)
            }
        }
    }

    /// `rows` random rows of `type` times `tokens` random activation rows.
    func check(_ type: GGMLType, rows: Int, columns: Int, tokens: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bytes = TestData.randomRow(type, count: rows * columns, &rng)
        let x = TestData.randomFloats(columns * tokens, &rng)
        let batch = QuantizedActivationBatch()
        batch.quantize(x, columns: columns, tokens: tokens)
        let weights = ReferenceKernels.dequantize(type, bytes, count: rows * columns)
        // The matrix ends right before an unmapped page, so an over-read crashes.
        let buffer = GuardedBuffer(bytes: bytes.count)
        buffer.start.copyMemory(from: bytes, byteCount: bytes.count)
        let w = WeightMatrix(type: type, rows: rows, columns: columns, base: buffer.start)
        var y = [Float](repeating: .nan, count: rows * tokens)
        y.withUnsafeMutableBufferPointer { IntegerBatchKernels.multiply(w, batch, into: $0.baseAddress!) }
        for t in 0..<tokens {
            let single = QuantizedActivations()
            x.withUnsafeBufferPointer { single.quantize($0.baseAddress! + t * columns, count: columns) }
            let xq = (0..<columns).map { Float(single.codes[$0]) * single.scales[$0 / 32] }
            for r in 0..<rows {
                let label = "\(type) \(rows)×\(columns), token \(t) of \(tokens), row \(r), seed \(seed)"
                let want = referenceDot(Array(weights[r * columns..<(r + 1) * columns]), xq)
                assertDot(y[t * rows + r], want, label)
                let one = IntegerRowKernels.dot(type, w.row(r), single, count: columns)
                // Same exact integer sums, only the float summation order differs.
                XCTAssert(abs(Double(y[t * rows + r]) - Double(one)) <= 2e-6 * want.magnitude + 1e-30,
                          "\(label): batch \(y[t * rows + r]) vs single-token \(one)")
            }
        }
    }

    func testKernelsMatchReference() {
        for type in Self.batchTypes {
            for tokens in [1, 2, 3, 4, 5, 7, 8, 9, 12, 15] {
                for blocks in [1, 3, 18] {
                    check(type, rows: 5, columns: 32 * blocks, tokens: tokens,
                          seed: UInt64(type.rawValue) << 32 | UInt64(tokens) << 8 | UInt64(blocks))
                }
            }
        }
    }

    func testRealisticShapes() {
        for type in Self.batchTypes {
            check(type, rows: 24, columns: 1536, tokens: 8, seed: 0xBA7C ^ UInt64(type.rawValue) << 40)
            check(type, rows: 24, columns: 576, tokens: 6, seed: 0xBA7D ^ UInt64(type.rawValue) << 40)
        }
    }

    /// Extreme codes: every weight code at its format's extreme and activations at ±511 (the
    /// largest lane sums), so an overflow of the 32-bit products would show.
    func testExtremeCodesDoNotOverflow() {
        let columns = 64, tokens = 8
        for type in Self.batchTypes {
            var bytes = [UInt8](repeating: 0xFF, count: type.byteCount(elements: 4 * columns))
            // Q8_0: codes −128 (0x80) are the most negative; keep scales finite (fp16 1.0 = 0x3C00).
            for block in 0..<(4 * columns / 32) {
                let base = block * type.blockBytes
                if type == .q8_0 { for i in 2..<34 { bytes[base + i] = 0x80 } }
                bytes[base] = 0x00; bytes[base + 1] = 0x3C
                if type == .q4_1 || type == .q5_1 { bytes[base + 2] = 0x00; bytes[base + 3] = 0xBC }
            }
            let x = (0..<columns * tokens).map { Float($0 % 2 == 0 ? 1 : -1) * (Float($0 % 7) + 1) }
            let batch = QuantizedActivationBatch()
            batch.quantize(x, columns: columns, tokens: tokens)
            let weights = ReferenceKernels.dequantize(type, bytes, count: 4 * columns)
            var y = [Float](repeating: .nan, count: 4 * tokens)
            bytes.withUnsafeBytes { b in
                let w = WeightMatrix(type: type, rows: 4, columns: columns, base: b.baseAddress!)
                y.withUnsafeMutableBufferPointer { IntegerBatchKernels.multiply(w, batch, into: $0.baseAddress!) }
            }
            for t in 0..<tokens {
                let xq = (0..<columns).map { Float(batch.plain.codes[t * columns + $0]) * batch.plain.scales[t * columns / 32 + $0 / 32] }
                for r in 0..<4 {
                    assertDot(y[t * 4 + r], referenceDot(Array(weights[r * columns..<(r + 1) * columns]), xq), "\(type) extreme, token \(t) row \(r)")
                }
            }
        }
    }
}

/// Matrix products of 2–15 tokens through `MatMul` (the server decode step): grouped targets
/// with a bias, one and two threads, integer batch kernels and a float-only format in one
/// dispatch, against a naive product with the dequantised weights and activations.
final class MatMulIntegerBatchTests: XCTestCase {
    /// Without `integerBatch` (prompts) small batches keep the float path: exact activations.
    func testSmallBatchesStayFloatUnlessAsked() {
        var rng = SplitMix64(seed: 78)
        let columns = 64, rows = 9, tokens = 5
        let bytes = TestData.randomRow(.q4_1, count: rows * columns, &rng)
        let x = TestData.randomFloats(columns * tokens, &rng)
        let dense = ReferenceKernels.dequantize(.q4_1, bytes, count: rows * columns)
        var y = [Float](repeating: .nan, count: rows * tokens)
        bytes.withUnsafeBytes { b in
            let w = WeightMatrix(type: .q4_1, rows: rows, columns: columns, base: b.baseAddress!)
            MatMul.multiply(w, x, tokens: tokens, into: &y, pool: ThreadPool(threadCount: 1))
        }
        for t in 0..<tokens {
            for r in 0..<rows {
                assertDot(y[t * rows + r], referenceDot(Array(dense[r * columns..<(r + 1) * columns]), Array(x[t * columns..<(t + 1) * columns])),
                          "float path, token \(t) row \(r)")
            }
        }
    }

    func testSmallBatchProductsUseIntegerBatchKernels() {
        var rng = SplitMix64(seed: 77)
        let columns = 512  // a whole number of Q6_K super-blocks
        let types: [GGMLType] = [.q4_1, .q8_0, .q6_K]
        let rows = [37, 20, 45]
        let rowBytes = types.indices.map { TestData.randomRow(types[$0], count: rows[$0] * columns, &rng) }
        let bias = (0..<rows[1]).map { _ in Float.random(in: -1...1, using: &rng) }
        let buffers = rowBytes.map { bytes -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            p.copyMemory(from: bytes, byteCount: bytes.count)
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        let matrices = types.indices.map { WeightMatrix(type: types[$0], rows: rows[$0], columns: columns, base: buffers[$0]) }
        let dequantized = types.indices.map { ReferenceKernels.dequantize(types[$0], rowBytes[$0], count: rows[$0] * columns) }
        for tokens in [2, 3, 8, 11, 15] {
            let x = TestData.randomFloats(columns * tokens, &rng)
            for threads in [1, 2] {
                let pool = ThreadPool(threadCount: threads)
                let outs = rows.map { UnsafeMutablePointer<Float>.allocate(capacity: $0 * tokens) }
                defer { outs.forEach { $0.deallocate() } }
                for m in types.indices { outs[m].initialize(repeating: .nan, count: rows[m] * tokens) }
                bias.withUnsafeBufferPointer { b in
                    MatMul.multiply(MatMulTarget(matrices[0], outs[0]), MatMulTarget(matrices[1], outs[1], bias: b.baseAddress),
                                    MatMulTarget(matrices[2], outs[2]), x, tokens: tokens, pool: pool, batch: .decode, options: .smallBatchKernels)
                }
                for t in 0..<tokens {
                    let single = QuantizedActivations()
                    x.withUnsafeBufferPointer { single.quantize($0.baseAddress! + t * columns, count: columns) }
                    let xq = (0..<columns).map { Float(single.codes[$0]) * single.scales[$0 / 32] }
                    let xt = Array(x[t * columns..<(t + 1) * columns])
                    for m in types.indices {
                        // Q6_K has no batch kernel: the float path, exact activations.
                        let activations = types[m] == .q6_K ? xt : xq
                        for r in 0..<rows[m] {
                            let want = referenceDot(Array(dequantized[m][r * columns..<(r + 1) * columns]), activations)
                            let b = m == 1 ? Double(bias[r]) : 0
                            assertDot(outs[m][t * rows[m] + r] - Float(b), (want.sum, want.magnitude + abs(b)),
                                      "\(types[m]) token \(t) of \(tokens), row \(r), \(threads) threads")
                        }
                    }
                }
            }
        }
    }
}
