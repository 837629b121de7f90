import XCTest
@testable import LoomKernels

/// Prompt-sized products (16+ tokens) through ``IntegerPromptKernel``: every output must be
/// bit-identical to the single-token integer kernel's arithmetic on that token alone, with
/// the prompt's 15-bit activation codes (``IntegerPromptKernel/promptCodeLimit``) for prompt
/// rows and the one-token kernels' own 10-bit codes for decode rows (so decode rows batched
/// through it get exactly the logits of one-token steps; on hosts with a native byte dot,
/// Q4_0 and Q5_0 decode use ``byteDotRow(_:_:_:blocks:)`` instead, the same integers with
/// different float rounding, checked against the 16-bit kernels in ``IntegerDotBytesTests``), and close to a
/// naive Double product of the reference-dequantised weights with the dequantised codes.
final class IntegerPromptKernelTests: XCTestCase {
    /// The 16-bit single-token kernel the prompt kernel reproduces bit for bit.
    func sixteenBitDot(_ type: GGMLType, _ row: UnsafeRawPointer, _ a: QuantizedActivations, count: Int) -> Float {
        switch type {
        case .q4_0: return pairwiseDot(BlockQ4_0.self, row, ActivationBlocks(a), blocks: count / 32)
        case .q5_0: return pairwiseDot(BlockQ5_0.self, row, ActivationBlocks(a), blocks: count / 32)
        default: return IntegerRowKernels.dot(type, row, a, count: count)
        }
    }

    static let types: [GGMLType] = [.q4_0, .q5_0, .q8_0]

    /// Random rows of `type` in a 64-byte aligned buffer (freed by the caller).
    func matrix(_ type: GGMLType, rows: Int, columns: Int, _ rng: inout SplitMix64) -> (WeightMatrix, [UInt8], UnsafeMutableRawPointer) {
        let bytes = TestData.randomRow(type, count: rows * columns, &rng)
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        p.copyMemory(from: bytes, byteCount: bytes.count)
        return (WeightMatrix(type: type, rows: rows, columns: columns, base: p), bytes, p)
    }

    /// y = W·x for `tokens` rows of x through ``MatMul`` (threads 1 or 2), optional bias.
    func product(_ targets: [(WeightMatrix, [Float]?)], _ x: [Float], tokens: Int, threads: Int,
                 options: KernelOptions = .default, batch: BatchRows = .any) -> [[Float]] {
        let pool = ThreadPool(threadCount: threads)
        var outs = targets.map { [Float](repeating: .nan, count: tokens * $0.0.rows) }
        let biases = targets.map { $0.1 }
        x.withUnsafeBufferPointer { xb in
            let o0 = UnsafeMutablePointer<Float>.allocate(capacity: outs[0].count)
            let o1 = targets.count > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: outs[1].count) : nil
            let b0 = biases[0].map { b -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: b.count); p.initialize(from: b, count: b.count); return p }
            defer { o0.deallocate(); o1?.deallocate(); b0?.deallocate() }
            o0.initialize(repeating: .nan, count: outs[0].count)
            o1?.initialize(repeating: .nan, count: outs[1].count)
            let a = MatMulTarget(targets[0].0, o0, bias: b0.map { UnsafePointer($0) })
            let b = o1.map { MatMulTarget(targets[1].0, $0) }
            MatMul.multiply(a, b, nil, xb.baseAddress!, tokens: tokens, pool: pool, batch: batch, options: options)
            outs[0] = Array(UnsafeBufferPointer(start: o0, count: outs[0].count))
            if let o1 { outs[1] = Array(UnsafeBufferPointer(start: o1, count: outs[1].count)) }
        }
        return outs
    }

    /// - Parameter batch: `.decode` rows (without batch invariance, so 16+ of them take this
    ///   kernel) must get the one-token kernels' 10-bit codes; other rows the prompt's 15 bits.
    func check(_ type: GGMLType, rows: Int, columns: Int, tokens: Int, bias: Bool, threads: Int, seed: UInt64,
               batch: BatchRows = .any) {
        var rng = SplitMix64(seed: seed)
        let (w, bytes, buffer) = matrix(type, rows: rows, columns: columns, &rng)
        defer { buffer.deallocate() }
        let x = TestData.randomFloats(tokens * columns, &rng)
        let b: [Float]? = bias ? (0..<rows).map { _ in Float.random(in: -1...1, using: &rng) } : nil
        var options = KernelOptions.default
        if batch == .decode { options.batchInvariant = false }
        let y = product([(w, b)], x, tokens: tokens, threads: threads, options: options, batch: batch)[0]
        let weights = ReferenceKernels.dequantize(type, bytes, count: rows * columns)
        let a = QuantizedActivations(codeLimit: batch == .decode ? QuantizedActivations.codeLimit : IntegerPromptKernel.promptCodeLimit)
        for t in 0..<tokens {
            x.withUnsafeBufferPointer { a.quantize($0.baseAddress! + t * columns, count: columns) }
            let xq = (0..<columns).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
            for r in 0..<rows {
                var single = sixteenBitDot(type, w.row(r), a, count: columns)
                if let b { single += b[r] }
                let got = y[t * rows + r]
                XCTAssertEqual(got.bitPattern, single.bitPattern,
                               "\(type) \(rows)×\(columns), \(tokens) tokens: token \(t) row \(r): \(got) vs one token \(single)")
                var want = referenceDot(Array(weights[r * columns..<(r + 1) * columns]), xq)
                if let b { want.sum += Double(b[r]); want.magnitude += Double(abs(b[r])) }
                assertDot(got, want, "\(type) token \(t) row \(r)")
            }
        }
    }

    func testMatchesSingleTokenKernelsExactly() {
        var seed: UInt64 = 1
        for type in Self.types {
            // Blocks per row 1…5 (tails after whole groups of four), realistic widths;
            // row counts around the register block (4) and tile (16); partial token groups.
            for (rows, columns, tokens) in [(1, 32, 16), (3, 64, 17), (4, 96, 23), (5, 128, 16), (9, 160, 31),
                                            (16, 576, 16), (37, 576, 40), (21, 1536, 19), (7, 64, 70)] {
                check(type, rows: rows, columns: columns, tokens: tokens, bias: seed % 2 == 0, threads: 1 + Int(seed % 2), seed: seed)
                seed += 1
            }
        }
    }

    /// The point of the prompt's 15-bit codes: prompt rows come out far closer to the product
    /// with unquantised activations than with the one-token kernels' 10-bit codes.
    func testPromptCodesAreFinerThanDecodeCodes() {
        var rng = SplitMix64(seed: 42)
        let rows = 32, columns = 896, tokens = 20
        let (w, bytes, buffer) = matrix(.q8_0, rows: rows, columns: columns, &rng)
        defer { buffer.deallocate() }
        let x = TestData.randomFloats(tokens * columns, &rng)
        let weights = ReferenceKernels.dequantize(.q8_0, bytes, count: rows * columns)
        var noInvariance = KernelOptions.default
        noInvariance.batchInvariant = false
        let prompt = product([(w, nil)], x, tokens: tokens, threads: 2)[0]
        let decode = product([(w, nil)], x, tokens: tokens, threads: 2, options: noInvariance, batch: .decode)[0]
        var promptError = 0.0, decodeError = 0.0
        for t in 0..<tokens {
            for r in 0..<rows {
                let exact = referenceDot(Array(weights[r * columns..<(r + 1) * columns]), Array(x[t * columns..<(t + 1) * columns])).sum
                promptError = max(promptError, abs(Double(prompt[t * rows + r]) - exact))
                decodeError = max(decodeError, abs(Double(decode[t * rows + r]) - exact))
            }
        }
        XCTAssertLessThan(promptError * 8, decodeError, "15-bit \(promptError) vs 10-bit \(decodeError)")
    }

    /// Decode rows batched through the prompt kernel keep the one-token kernels' 10-bit codes.
    func testDecodeRowsKeepTheOneTokenCodes() {
        var seed: UInt64 = 300
        for type in Self.types {
            for (rows, columns, tokens) in [(5, 128, 16), (37, 576, 40)] {
                check(type, rows: rows, columns: columns, tokens: tokens, bias: false, threads: 2, seed: seed, batch: .decode)
                seed += 1
            }
        }
    }

    /// Both lane widths (8 and 16 tokens per group) on any host, whichever this build's
    /// ``MatMul`` takes: without AVX-512 VNNI the 16-lane dot is the intrinsic's portable
    /// loop, with it the 8-lane one is still plain Swift. Each must give every token the
    /// single-token kernel's bits.
    func testBothLaneWidthsMatchSingleTokenKernels() {
        func run<G: PromptLaneGroup>(_: G.Type, _ type: GGMLType, rows: Int, columns: Int, tokens: Int, seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            let (w, _, buffer) = matrix(type, rows: rows, columns: columns, &rng)
            defer { buffer.deallocate() }
            let x = TestData.randomFloats(tokens * columns, &rng)
            let y = promptKernelProduct(G.self, w, x, tokens: tokens)
            let a = QuantizedActivations()
            for t in 0..<tokens {
                x.withUnsafeBufferPointer { a.quantize($0.baseAddress! + t * columns, count: columns) }
                for r in 0..<rows {
                    XCTAssertEqual(y[t * rows + r].bitPattern, sixteenBitDot(type, w.row(r), a, count: columns).bitPattern,
                                   "\(G.lanes) lanes, \(type) \(rows)×\(columns), \(tokens) tokens: token \(t) row \(r)")
                }
            }
        }
        var seed: UInt64 = 100
        for type in Self.types {
            // Two-group blocks, and single groups (decode batches: ≤ 8 tokens narrow, ≤ 16 wide)
            // with row counts around the one-group block of 8.
            for (rows, columns, tokens) in [(5, 160, 16), (8, 576, 33), (6, 96, 50), (3, 64, 1), (13, 160, 5), (9, 576, 8), (17, 96, 12)] {
                run(NarrowPromptLanes.self, type, rows: rows, columns: columns, tokens: tokens, seed: seed)
                run(WidePromptLanes.self, type, rows: rows, columns: columns, tokens: tokens, seed: seed)
                seed += 1
            }
        }
    }

    /// One dispatch with an integer-kernel format and one without (Q4_1 takes the f32
    /// broadcast kernel): both share the scratch, each must match its own path.
    func testMixedDispatch() {
        var rng = SplitMix64(seed: 77)
        let columns = 256, tokens = 33
        let (w0, _, p0) = matrix(.q4_0, rows: 24, columns: columns, &rng)
        let (w1, bytes1, p1) = matrix(.q4_1, rows: 19, columns: columns, &rng)
        defer { p0.deallocate(); p1.deallocate() }
        let x = TestData.randomFloats(tokens * columns, &rng)
        let outs = product([(w0, nil), (w1, nil)], x, tokens: tokens, threads: 2)
        let ref1 = ReferenceKernels.dequantize(.q4_1, bytes1, count: 19 * columns)
        let a = QuantizedActivations(codeLimit: IntegerPromptKernel.promptCodeLimit)
        for t in 0..<tokens {
            let xt = Array(x[t * columns..<(t + 1) * columns])
            a.quantize(xt, count: columns)
            for r in 0..<24 {
                XCTAssertEqual(outs[0][t * 24 + r].bitPattern, sixteenBitDot(.q4_0, w0.row(r), a, count: columns).bitPattern)
            }
            for r in 0..<19 {
                assertDot(outs[1][t * 19 + r], referenceDot(Array(ref1[r * columns..<(r + 1) * columns]), xt), "q4_1 token \(t) row \(r)")
            }
        }
    }

    /// With the switch off the f32 path runs: close to the float reference, not to the codes.
    func testSwitchOffUsesFloatPath() {
        var options = KernelOptions()
        options.integerPrompt = false
        var rng = SplitMix64(seed: 5)
        let columns = 128, rows = 8, tokens = 16
        let (w, bytes, p) = matrix(.q4_0, rows: rows, columns: columns, &rng)
        defer { p.deallocate() }
        let x = TestData.randomFloats(tokens * columns, &rng)
        let y = product([(w, nil)], x, tokens: tokens, threads: 1, options: options)[0]
        let weights = ReferenceKernels.dequantize(.q4_0, bytes, count: rows * columns)
        for t in 0..<tokens {
            for r in 0..<rows {
                assertDot(y[t * rows + r], referenceDot(Array(weights[r * columns..<(r + 1) * columns]), Array(x[t * columns..<(t + 1) * columns])),
                          "float path token \(t) row \(r)")
            }
        }
    }
}

/// `W·x` for all rows of `w` and `tokens` rows of `x` through the prompt kernel alone with
/// lane group `G` (prepare, unpack, one ``IntegerPromptKernel/multiplyTile(_:_:rows:columns:_:tokens:into:ldy:firstRow:bias:offsets:)``
/// call, offsets where the format has them): `y[t·rows + r]`.
func promptKernelProduct<G: PromptLaneGroup>(_: G.Type, _ w: WeightMatrix, _ x: [Float], tokens: Int,
                                             codeLimit: Int = QuantizedActivations.codeLimit) -> [Float] {
    let rows = w.rows, columns = w.columns
    let words = IntegerPromptKernel.preparedWords(tokens: tokens, columns: columns, lanes: G.lanes)
    let prepared = UnsafeMutableRawPointer.allocate(byteCount: 4 * words, alignment: 64)
    let tile = UnsafeMutableRawPointer.allocate(byteCount: 4 * IntegerPromptKernel.tileWords(rows: rows, columns: columns), alignment: 64)
    defer { prepared.deallocate(); tile.deallocate() }
    x.withUnsafeBufferPointer {
        IntegerPromptKernel.prepare($0.baseAddress!, tokens: tokens, columns: columns, into: prepared, lanes: G.lanes, codeLimit: codeLimit)
    }
    IntegerPromptKernel.unpack(w, rows: 0..<rows, into: tile)
    var y = [Float](repeating: .nan, count: tokens * rows)
    y.withUnsafeMutableBufferPointer {
        IntegerPromptKernel.multiplyTile(G.self, tile, rows: rows, columns: columns, prepared, tokens: tokens,
                                         into: $0.baseAddress!, ldy: rows, firstRow: 0, bias: nil,
                                         offsets: IntegerPromptKernel.hasOffsets(w.type))
    }
    return y
}
