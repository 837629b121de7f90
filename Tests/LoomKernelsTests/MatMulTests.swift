import XCTest
@testable import LoomKernels

/// The threaded matrix products against a naive triple loop on random data.
final class MatMulTests: XCTestCase {
    func randomFloats(_ n: Int, seed: inout UInt64) -> [Float] {
        (0..<n).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
    }

    /// y[t][r] = Σ_k W[r][k] x[t][k] (+ bias[r]) in double precision.
    func naive(_ w: [Float], rows: Int, columns: Int, _ x: [Float], tokens: Int, bias: [Float]?) -> [Double] {
        var y = [Double](repeating: 0, count: tokens * rows)
        for t in 0..<tokens {
            for r in 0..<rows {
                var s = 0.0
                for k in 0..<columns { s += Double(w[r * columns + k]) * Double(x[t * columns + k]) }
                y[t * rows + r] = s + Double(bias?[r] ?? 0)
            }
        }
        return y
    }

    func check(rows: Int, columns: Int, tokens: Int, threads: Int, bias: Bool) {
        var seed: UInt64 = UInt64(rows * 31 + columns * 7 + tokens)
        let w = randomFloats(rows * columns, seed: &seed)
        let x = randomFloats(tokens * columns, seed: &seed)
        let b = bias ? randomFloats(rows, seed: &seed) : nil
        let expected = naive(w, rows: rows, columns: columns, x, tokens: tokens, bias: b)
        var y = [Float](repeating: .nan, count: tokens * rows)
        let pool = ThreadPool(threadCount: threads)
        w.withUnsafeBytes { wb in
            let matrix = WeightMatrix(type: .f32, rows: rows, columns: columns, base: wb.baseAddress!)
            y.withUnsafeMutableBufferPointer { yb in
                b.withOptionalBuffer { bp in
                    MatMul.multiply(MatMulTarget(matrix, yb.baseAddress!, bias: bp), nil, nil, x, tokens: tokens, pool: pool)
                }
            }
        }
        for i in 0..<y.count {
            XCTAssertEqual(Double(y[i]), expected[i], accuracy: 1e-4 * Double(columns).squareRoot(),
                           "rows \(rows) columns \(columns) tokens \(tokens) element \(i)")
        }
    }

    func testOneToken() { check(rows: 37, columns: 96, tokens: 1, threads: 2, bias: false) }
    func testBatchWithRemainderRows() { check(rows: 53, columns: 64, tokens: 5, threads: 2, bias: true) }
    func testBatchSingleThread() { check(rows: 20, columns: 33, tokens: 3, threads: 1, bias: true) }
    func testBatchOfEightTokensWithColumnTail() { check(rows: 45, columns: 52, tokens: 8, threads: 2, bias: true) }

    /// The 4×4 micro-kernel gives exactly the sums of four dot4 calls (batched results must
    /// not depend on how tokens are grouped).
    func testDot4x4IsBitIdenticalToDot4() {
        var seed: UInt64 = 7
        for n in [16, 45, 576] {
            let rows = (0..<4).map { _ in randomFloats(n, seed: &seed) }
            let xs = (0..<4).map { _ in randomFloats(n, seed: &seed) }
            let r = VectorOps.dot4x4(rows[0], rows[1], rows[2], rows[3], xs[0], xs[1], xs[2], xs[3], count: n)
            for (t, got) in [r.0, r.1, r.2, r.3].enumerated() {
                XCTAssertEqual(got, VectorOps.dot4(rows[0], rows[1], rows[2], rows[3], xs[t], count: n), "n \(n) token \(t)")
            }
        }
    }
    /// The inlined lane sum is the standard library's `sum()` bit for bit (lane order from
    /// −0), signed zeros, infinities and values of mixed magnitude included: replacing one by
    /// the other changed no result.
    func testLaneSumIsTheStandardLibrarysSum() {
        var seed: UInt64 = 3
        var cases: [SIMD16<Float>] = [SIMD16(repeating: -0.0), SIMD16(repeating: 0), SIMD16(repeating: .infinity)]
        for _ in 0..<200 {
            let v = randomFloats(16, seed: &seed)
            var x = SIMD16<Float>()
            for i in 0..<16 { x[i] = v[i] * Float(1 << (i % 13)) * (i % 5 == 0 ? 1e-7 : 1) }
            cases.append(x)
        }
        for x in cases {
            XCTAssertEqual(VectorOps.laneSum(x).bitPattern, x.sum().bitPattern, "\(x)")
        }
    }

    func testManyRowsAcrossChunks() { check(rows: 300, columns: 128, tokens: 7, threads: 2, bias: false) }

    /// Three products in one dispatch write each output as three separate calls would.
    func testGroupedProductsMatchSeparate() {
        var seed: UInt64 = 99
        let columns = 64
        let sizes = [48, 16, 16]
        let ws = sizes.map { randomFloats($0 * columns, seed: &seed) }
        let x = randomFloats(4 * columns, seed: &seed)
        let pool = ThreadPool(threadCount: 2)
        var o0 = [Float](repeating: .nan, count: 4 * sizes[0])
        var o1 = [Float](repeating: .nan, count: 4 * sizes[1])
        var o2 = [Float](repeating: .nan, count: 4 * sizes[2])
        ws[0].withUnsafeBytes { a in ws[1].withUnsafeBytes { b in ws[2].withUnsafeBytes { c in
            o0.withUnsafeMutableBufferPointer { ya in o1.withUnsafeMutableBufferPointer { yb in
                o2.withUnsafeMutableBufferPointer { yc in
                    MatMul.multiply(
                        MatMulTarget(WeightMatrix(type: .f32, rows: 48, columns: columns, base: a.baseAddress!), ya.baseAddress!),
                        MatMulTarget(WeightMatrix(type: .f32, rows: 16, columns: columns, base: b.baseAddress!), yb.baseAddress!),
                        MatMulTarget(WeightMatrix(type: .f32, rows: 16, columns: columns, base: c.baseAddress!), yc.baseAddress!),
                        x, tokens: 4, pool: pool)
                }
            }}
        }}}
        let outputs = [o0, o1, o2]
        for (i, w) in ws.enumerated() {
            let expected = naive(w, rows: sizes[i], columns: columns, x, tokens: 4, bias: nil)
            for j in 0..<expected.count { XCTAssertEqual(Double(outputs[i][j]), expected[j], accuracy: 1e-3) }
        }
    }

    /// Quantised weights take the dequantise-tile path; compare with dequantise-then-naive.
    func testQuantizedBatchMatchesDequantized() {
        let rows = 24, columns = 64, tokens = 6
        var seed: UInt64 = 5
        // Q8_0 blocks: fp16 scale 0.01 then 32 int8 values.
        var bytes: [UInt8] = []
        for _ in 0..<(rows * columns / 32) {
            bytes += [0x1F, 0x21] // 0.0101 as fp16 (0x211F), little-endian
            for _ in 0..<32 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1
                bytes.append(UInt8(truncatingIfNeeded: seed >> 40))
            }
        }
        let x = randomFloats(tokens * columns, seed: &seed)
        let pool = ThreadPool(threadCount: 2)
        var dense = [Float](repeating: 0, count: rows * columns)
        var y = [Float](repeating: .nan, count: tokens * rows)
        bytes.withUnsafeBytes { raw in
            let m = WeightMatrix(type: .q8_0, rows: rows, columns: columns, base: raw.baseAddress!)
            for r in 0..<rows { dense.withUnsafeMutableBufferPointer { m.dequantizeRow(r, into: $0.baseAddress! + r * columns) } }
            MatMul.multiply(m, x, tokens: tokens, into: &y, pool: pool)
        }
        let expected = naive(dense, rows: rows, columns: columns, x, tokens: tokens, bias: nil)
        for i in 0..<y.count { XCTAssertEqual(Double(y[i]), expected[i], accuracy: 1e-3) }
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalBuffer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
