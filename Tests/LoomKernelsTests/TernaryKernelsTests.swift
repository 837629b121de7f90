import XCTest
@testable import LoomKernels

/// TQ1_0 and TQ2_0: quantiser bytes against llama.cpp/gguf-py, the ternary round trip, and the
/// integer kernels (AVX2 and portable, decode and prompt) against a Double reference.
final class TernaryKernelsTests: XCTestCase {
    static let types: [GGMLType] = [.tq1_0, .tq2_0]

    func testQuantizerMatchesLlamaCppByteForByte() throws {
        let cases = try TernaryFixture.load().quantizeCases()
        XCTAssertEqual(Set(cases.map(\.type)), Set(Self.types))
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for c in cases {
            XCTAssertEqual(RowQuantizer.quantize(c.type, c.x), c.blocks, "\(c.type) \(c.name)")
        }
    }

    /// Weights already ternary per block ({−s, 0, +s}, s an fp16 value) come back exactly, and
    /// any TQ data requantises to the same bytes (dequantise → quantise is the identity).
    func testTernaryWeightsRoundTripLosslessly() {
        var rng = SplitMix64(seed: 24)
        for type in Self.types {
            for trial in 0..<6 {
                let blocks = 1 + trial
                var x = [Float]()
                for b in 0..<blocks {
                    // Per-block scales (one all-zero block), or one scale for the row.
                    let s = b == 2 ? 0 : Float(Float16(Float.random(in: 1e-3...4, using: &rng)))
                    x += (0..<256).map { _ in Float(Int.random(in: -1...1, using: &rng)) * s }
                }
                let q = RowQuantizer.quantize(type, x)
                let back = dequantize(type, q, count: x.count)
                // A block without a ±s entry has max|x| = 0 and stays 0 anyway.
                assertBitwiseEqual(back.map { $0 == 0 ? 0 : $0 }, x.map { $0 == 0 ? 0 : $0 }, "\(type) blocks \(blocks)")
                XCTAssertEqual(RowQuantizer.quantize(type, back), q, "\(type) requantised")
            }
        }
    }

    func testRowLengthMustBeWholeBlocks() {
        XCTAssertFalse(RowQuantizer.canQuantize(.tq2_0, count: 576))
        XCTAssertFalse(RowQuantizer.canQuantize(.tq1_0, count: 896))
        XCTAssertTrue(RowQuantizer.canQuantize(.tq1_0, count: 1536))
    }

    /// Codes and scales equal a scalar port of ggml's `quantize_row_q8_K_ref` (ggml-quants.c):
    /// iscale = −127/max for the first element of largest magnitude, codes nearest(iscale·x)
    /// capped at 127, d = 1/iscale — llama.cpp's TQ activations bit for bit. Blocks include a
    /// negative maximum, a tie between +a and −a, and all zeros.
    func testActivationQuantisationIsGGMLs() {
        var rng = SplitMix64(seed: 5)
        var x = TestData.randomFloats(1024, &rng)
        x[256 + 17] = -9; x[256 + 40] = 9         // block 1: the first (negative) one wins
        for i in 512..<768 { x[i] = 0 }           // block 2: zeros
        x[768 + 3] = 5                            // block 3: a positive maximum
        let a = TernaryActivations()
        a.quantize(x, count: 1024)
        for b in 0..<4 {
            let block = Array(x[(256 * b)..<(256 * b + 256)])
            var amax: Float = 0, max: Float = 0
            for v in block where abs(v) > amax { amax = abs(v); max = v }
            var sum: Int32 = 0
            if amax == 0 {
                XCTAssertEqual(a.scales[b], 0)
            } else {
                let iscale = -127 / max
                XCTAssertEqual(a.scales[b].bitPattern, (1 / iscale).bitPattern, "block \(b)")
                for (i, v) in block.enumerated() {
                    let code = Swift.min(127, Int32((iscale * v).rounded(.toNearestOrEven)))
                    XCTAssertEqual(Int32(a.codes[256 * b + i]), code, "block \(b) element \(i)")
                    sum += code
                }
            }
            XCTAssertEqual(a.sums[b], sum)
        }
    }

    /// The integer kernels compute Σ w·x̂ (x̂ the dequantised activations) up to float
    /// rounding; the AVX2 and portable multiply-adds give the same bits, and a row's value
    /// does not depend on the rows grouped with it.
    func testIntegerKernelsMatchReference() {
        var rng = SplitMix64(seed: 2424)
        for type in Self.types {
            for blocks in [1, 3, 8] {
                let n = 256 * blocks
                let rows = (0..<5).map { _ in TestData.randomRow(type, count: n, &rng) }
                let x = TestData.randomFloats(n, &rng)
                let a = TernaryActivations()
                a.quantize(x, count: n)
                let xHat = (0..<n).map { Float(a.codes[$0]) * a.scales[$0 / 256] }
                let packed = rows.flatMap { $0 }
                let rowBytes = type.byteCount(elements: n)
                packed.withUnsafeBytes { raw in
                    let base = raw.baseAddress!
                    for r in 0..<5 {
                        let want = referenceDot(ReferenceKernels.dequantize(type, rows[r], count: n), xHat)
                        let native = TernaryKernels.dot(type, base + r * rowBytes, a, count: n)
                        let portable = TernaryKernels.dot(type, base + r * rowBytes, a, count: n, portable: true)
                        assertDot(native, want, "\(type) row \(r), \(blocks) blocks")
                        XCTAssertEqual(native.bitPattern, portable.bitPattern, "\(type) native vs portable")
                        if r < 2 {
                            let four = TernaryKernels.dotFourRows(type, base + r * rowBytes, rowBytes: rowBytes, a, count: n)
                            let fourPortable = TernaryKernels.dotFourRows(type, base + r * rowBytes, rowBytes: rowBytes, a, count: n, portable: true)
                            XCTAssertEqual(four[0].bitPattern, native.bitPattern, "\(type) row \(r) alone vs in a group")
                            XCTAssertEqual(four, fourPortable)
                        }
                    }
                }
            }
        }
    }

    /// Through ``MatMul``: decode (one token) and prompt (16+ tokens) paths against the float
    /// kernels, a prompt bit-identical to its tokens one at a time, and the fused gate/up.
    func testMatMulPathsAgree() {
        var rng = SplitMix64(seed: 77)
        let pool = ThreadPool(threadCount: 2)
        for type in Self.types {
            let rows = 37, columns = 512, tokens = 19
            let bytes = TestData.randomRow(type, count: rows * columns, &rng)
            let x = TestData.randomFloats(tokens * columns, &rng)
            let bias = TestData.randomFloats(rows, &rng)
            bytes.withUnsafeBytes { raw in
                let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
                var prompt = [Float](repeating: .nan, count: tokens * rows)
                var single = [Float](repeating: .nan, count: tokens * rows)
                var float = [Float](repeating: .nan, count: tokens * rows)
                var floatOptions = KernelOptions()
                floatOptions.integerActivations = false
                bias.withUnsafeBufferPointer { b in
                    prompt.withUnsafeMutableBufferPointer { y in
                        MatMul.multiply(MatMulTarget(w, y.baseAddress!, bias: b.baseAddress!), nil, nil, x, tokens: tokens, pool: pool)
                    }
                    float.withUnsafeMutableBufferPointer { y in
                        MatMul.multiply(MatMulTarget(w, y.baseAddress!, bias: b.baseAddress!), nil, nil, x, tokens: tokens, pool: pool, options: floatOptions)
                    }
                    for t in 0..<tokens {
                        single.withUnsafeMutableBufferPointer { y in
                            x.withUnsafeBufferPointer { xs in
                                MatMul.multiply(MatMulTarget(w, y.baseAddress! + t * rows, bias: b.baseAddress!), nil, nil,
                                                xs.baseAddress! + t * columns, tokens: 1, pool: pool)
                            }
                        }
                    }
                }
                assertBitwiseEqual(prompt, single, "\(type) prompt vs token by token")
                // Integer vs float: the activation rounding (1/254 of each block's range).
                for t in 0..<tokens {
                    let xt = Array(x[(t * columns)..<((t + 1) * columns)])
                    for r in 0..<rows {
                        let wr = ReferenceKernels.dequantize(type, Array(bytes[(r * w.rowBytes)..<((r + 1) * w.rowBytes)]), count: columns)
                        let ref = referenceDot(wr, xt)
                        XCTAssertEqual(Double(float[t * rows + r]), ref.sum + Double(bias[r]), accuracy: 1e-5 * ref.magnitude + 1e-6, "\(type) float path")
                        XCTAssertEqual(Double(prompt[t * rows + r]), ref.sum + Double(bias[r]), accuracy: 0.02 * ref.magnitude + 1e-6, "\(type) integer path")
                    }
                }
                // Fused gate/up (decode) equals two products and swiglu.
                var fused = [Float](repeating: .nan, count: rows)
                var gate = [Float](repeating: 0, count: rows), up = [Float](repeating: 0, count: rows)
                fused.withUnsafeMutableBufferPointer { GatedFeedForward.multiply(gate: w, up: w, x, into: $0.baseAddress!, pool: pool) }
                gate.withUnsafeMutableBufferPointer { MatMul.multiply(w, x, tokens: 1, into: $0.baseAddress!, pool: pool) }
                up.withUnsafeMutableBufferPointer { MatMul.multiply(w, x, tokens: 1, into: $0.baseAddress!, pool: pool) }
                VectorOps.swiglu(&gate, up: up, count: rows)
                assertBitwiseEqual(fused, gate, "\(type) fused gate/up")
            }
        }
    }

    func dequantize(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { RowKernels.dequantize(type, src.baseAddress!, into: $0.baseAddress!, count: count) }
        }
        return out
    }
}
