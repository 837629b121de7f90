import XCTest
@testable import LoomKernels

/// Prompts of Q3_K, Q4_K, Q5_K and Q6_K weights through ``IntegerPromptKernel``
/// (IntegerPromptKernel+KQuants.swift): every output against a naive Double product of the
/// reference-dequantised weights (ggml's formulas, ReferenceKernels.swift) with the
/// activations as the prompt quantises them (15-bit codes). The kernel's integers are
/// exact, so the only slack is float rounding: a wrong code, scale, group or offset changes
/// an output by a whole term and fails ``assertDot(_:_:_:file:line:)``'s 1e-5 bound.
final class IntegerPromptKernelKQuantTests: XCTestCase {
    static let types: [GGMLType] = [.q3_K, .q4_K, .q5_K, .q6_K]

    /// Random rows of `type` in a 64-byte aligned buffer (freed by the caller).
    func matrix(_ type: GGMLType, rows: Int, columns: Int, _ rng: inout SplitMix64) -> (WeightMatrix, [UInt8], UnsafeMutableRawPointer) {
        let bytes = TestData.randomRow(type, count: rows * columns, &rng)
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        p.copyMemory(from: bytes, byteCount: bytes.count)
        return (WeightMatrix(type: type, rows: rows, columns: columns, base: p), bytes, p)
    }

    /// Checks `y` (`tokens × rows`, plus `bias`) against W·x̂ with x̂ the 15-bit prompt codes.
    func assertMatchesReference(_ y: [Float], _ type: GGMLType, _ bytes: [UInt8], _ x: [Float], rows: Int, columns: Int, tokens: Int,
                                bias: [Float]?, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let weights = ReferenceKernels.dequantize(type, bytes, count: rows * columns)
        let a = QuantizedActivations(codeLimit: IntegerPromptKernel.promptCodeLimit)
        for t in 0..<tokens {
            x.withUnsafeBufferPointer { a.quantize($0.baseAddress! + t * columns, count: columns) }
            let xq = (0..<columns).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
            for r in 0..<rows {
                var want = referenceDot(Array(weights[r * columns..<(r + 1) * columns]), xq)
                if let bias { want.sum += Double(bias[r]); want.magnitude += Double(abs(bias[r])) }
                assertDot(y[t * rows + r], want, "\(label) \(type) \(rows)×\(columns), \(tokens) tokens: token \(t) row \(r)", file: file, line: line)
            }
        }
    }

    /// Through ``MatMul``: prompt batches (16+ tokens, or any size as batch-invariant
    /// `.prompt` rows, whose ≤ 8 tokens take the one-group block), row counts around the
    /// register blocks (4 and 8) and the 16-row tile, several super-blocks, bias, 1–2 threads.
    func testMatMulPromptsAgainstReference() {
        var seed: UInt64 = 11
        for type in Self.types {
            for (rows, columns, tokens, batch) in [(1, 256, 16, BatchRows.any), (5, 256, 17, .any), (9, 512, 40, .any), (16, 768, 23, .any),
                                                   (37, 1536, 19, .any), (3, 256, 5, .prompt), (13, 512, 8, .prompt), (6, 256, 1, .prompt)] {
                var rng = SplitMix64(seed: seed)
                let (w, bytes, buffer) = matrix(type, rows: rows, columns: columns, &rng)
                defer { buffer.deallocate() }
                let x = TestData.randomFloats(tokens * columns, &rng)
                let bias: [Float]? = seed % 2 == 0 ? (0..<rows).map { _ in Float.random(in: -1...1, using: &rng) } : nil
                var y = [Float](repeating: .nan, count: tokens * rows)
                let pool = ThreadPool(threadCount: 1 + Int(seed % 2))
                x.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { yb in
                        if let bias {
                            bias.withUnsafeBufferPointer { bb in
                                MatMul.multiply(MatMulTarget(w, yb.baseAddress!, bias: bb.baseAddress!), nil, nil, xb.baseAddress!, tokens: tokens, pool: pool, batch: batch)
                            }
                        } else {
                            MatMul.multiply(w, xb.baseAddress!, tokens: tokens, into: yb.baseAddress!, pool: pool, batch: batch)
                        }
                    }
                }
                assertMatchesReference(y, type, bytes, x, rows: rows, columns: columns, tokens: tokens, bias: bias, "MatMul")
                seed += 1
            }
        }
    }

    /// The tile and kernel directly with both lane widths (8 and 16 tokens per group), the
    /// one this host's ``MatMul`` does not take included.
    func testBothLaneWidths() {
        func run<G: PromptLaneGroup>(_: G.Type, _ type: GGMLType, rows: Int, columns: Int, tokens: Int, seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            let (w, bytes, buffer) = matrix(type, rows: rows, columns: columns, &rng)
            defer { buffer.deallocate() }
            let x = TestData.randomFloats(tokens * columns, &rng)
            let y = promptKernelProduct(G.self, w, x, tokens: tokens, codeLimit: IntegerPromptKernel.promptCodeLimit)
            assertMatchesReference(y, type, bytes, x, rows: rows, columns: columns, tokens: tokens, bias: nil, "\(G.lanes) lanes")
        }
        var seed: UInt64 = 500
        for type in Self.types {
            for (rows, columns, tokens) in [(5, 256, 16), (8, 512, 33), (6, 256, 50), (3, 256, 1), (13, 512, 5), (17, 256, 12)] {
                run(NarrowPromptLanes.self, type, rows: rows, columns: columns, tokens: tokens, seed: seed)
                run(WidePromptLanes.self, type, rows: rows, columns: columns, tokens: tokens, seed: seed)
                seed += 1
            }
        }
    }

    /// K-quant decode rows never take the prompt kernel: their arithmetic is the one-token
    /// kernels' (10-bit codes), which the prompt kernel does not reproduce for K-quants.
    func testDecodeRowsStayOnOneTokenKernels() {
        for type in Self.types {
            XCTAssertTrue(IntegerPromptKernel.isPreferred(type))
            XCTAssertFalse(IntegerPromptKernel.supports(type), "\(type) is not bit-identical to its one-token kernel")
        }
    }
}
