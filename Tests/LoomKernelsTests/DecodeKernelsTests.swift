import XCTest
@testable import LoomKernels

/// Decode-path kernels added for issue #4: the fused gate/up/SwiGLU dispatch against the
/// unfused sequence it replaces, decode results independent of how rows are split between
/// threads, and the pairwise integer kernels at their extreme codes.
final class DecodeKernelsTests: XCTestCase {
    /// Random weights of `type` in their own buffer (freed by the caller).
    func matrix(_ type: GGMLType, rows: Int, columns: Int, _ rng: inout SplitMix64) -> (WeightMatrix, UnsafeMutableRawPointer) {
        let bytes = TestData.randomRow(type, count: rows * columns, &rng)
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        p.copyMemory(from: bytes, byteCount: bytes.count)
        return (WeightMatrix(type: type, rows: rows, columns: columns, base: p), p)
    }

    /// The fused dispatch gives bit for bit what `MatMul.multiply` + `VectorOps.swiglu`
    /// give, for integer, float and mixed gate/up types, with one and two threads.
    func testGatedFeedForwardMatchesUnfusedSequence() {
        var rng = SplitMix64(seed: 4)
        let columns = 768, rows = 203
        let pairs: [(GGMLType, GGMLType)] = [(.q4_0, .q4_0), (.q4_1, .q4_1), (.q5_0, .q5_0), (.q8_0, .q8_0), (.f16, .f16), (.q4_K, .q6_K), (.f32, .q8_0)]
        let x = TestData.randomFloats(columns, &rng)
        for (gateType, upType) in pairs {
            let (gate, gp) = matrix(gateType, rows: rows, columns: columns, &rng)
            let (up, up_) = matrix(upType, rows: rows, columns: columns, &rng)
            defer { gp.deallocate(); up_.deallocate() }
            for threads in [1, 2] {
                let pool = ThreadPool(threadCount: threads)
                var g = [Float](repeating: .nan, count: rows), u = [Float](repeating: .nan, count: rows)
                var fused = [Float](repeating: .nan, count: rows)
                g.withUnsafeMutableBufferPointer { gb in
                    u.withUnsafeMutableBufferPointer { ub in
                        MatMul.multiply(MatMulTarget(gate, gb.baseAddress!), MatMulTarget(up, ub.baseAddress!), nil, x, tokens: 1, pool: pool)
                        VectorOps.swiglu(gb.baseAddress!, up: ub.baseAddress!, count: rows)
                    }
                }
                fused.withUnsafeMutableBufferPointer { GatedFeedForward.multiply(gate: gate, up: up, x, into: $0.baseAddress!, pool: pool) }
                assertBitwiseEqual(fused, g, "\(gateType)/\(upType), \(threads) threads")
                // And against a naive reference: silu(w_g·x̂)·(w_u·x̂) with each dot in Double.
                let a = QuantizedActivations()
                a.quantize(x, count: columns)
                let xq = (0..<columns).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
                let wg = ReferenceKernels.dequantize(gateType, Array(UnsafeRawBufferPointer(start: gate.base, count: rows * gate.rowBytes)), count: rows * columns)
                let wu = ReferenceKernels.dequantize(upType, Array(UnsafeRawBufferPointer(start: up.base, count: rows * up.rowBytes)), count: rows * columns)
                for r in stride(from: 0, to: rows, by: 17) {
                    let xg = IntegerRowKernels.isPreferred(gateType) ? xq : x
                    let xu = IntegerRowKernels.isPreferred(upType) ? xq : x
                    let dg = referenceDot(Array(wg[r * columns..<(r + 1) * columns]), xg)
                    let du = referenceDot(Array(wu[r * columns..<(r + 1) * columns]), xu)
                    let want = dg.sum / (1 + Foundation.exp(-dg.sum)) * du.sum
                    // silu has slope ≤ 1.1, so each factor's dot tolerance carries over.
                    let tolerance = 1.1e-5 * dg.magnitude * abs(du.sum) + 1e-5 * du.magnitude * abs(dg.sum) + 1e-6 * abs(want) + 1e-9
                    XCTAssert(abs(Double(fused[r]) - want) <= tolerance, "\(gateType)/\(upType) row \(r): \(fused[r]) vs \(want)")
                }
            }
        }
    }

    /// Where a decode dispatch's runs of rows start and end (thread count, runs per thread)
    /// does not change any output: the four-row kernels read a run's last one to three rows
    /// as the tail of a group of four, and every lane computes alike. Grouped Q/K/V-style
    /// products with a bias and the fused gate/up dispatch, row counts not divisible by
    /// four, a matrix of three rows, four-row formats and others.
    func testDecodeRunBoundariesDoNotChangeResults() {
        var rng = SplitMix64(seed: 9)
        let columns = 256
        let x = TestData.randomFloats(columns, &rng)
        let bias = TestData.randomFloats(131, &rng)
        for type in [GGMLType.q4_0, .q5_1, .q5_0, .q8_0, .q4_K, .f16, .q6_K] {
            let (a, ap) = matrix(type, rows: 131, columns: columns, &rng)
            let (b, bp) = matrix(type, rows: 29, columns: columns, &rng)
            let (c, cp) = matrix(type, rows: 3, columns: columns, &rng)
            let (g, gp) = matrix(type, rows: 77, columns: columns, &rng)
            let (u, up) = matrix(type, rows: 77, columns: columns, &rng)
            defer { ap.deallocate(); bp.deallocate(); cp.deallocate(); gp.deallocate(); up.deallocate() }
            var reference: [Float] = []
            for (threads, runs) in [(1, 4), (2, 1), (2, 3), (2, 4), (2, 8), (3, 5)] {
                var options = KernelOptions()
                options.decodeChunksPerThread = runs
                let pool = ThreadPool(threadCount: threads)
                var ya = [Float](repeating: .nan, count: 131), yb = [Float](repeating: .nan, count: 29)
                var yc = [Float](repeating: .nan, count: 3), yg = [Float](repeating: .nan, count: 77)
                bias.withUnsafeBufferPointer { bb in
                    ya.withUnsafeMutableBufferPointer { pa in
                        yb.withUnsafeMutableBufferPointer { pb in
                            yc.withUnsafeMutableBufferPointer { pc in
                                MatMul.multiply(MatMulTarget(a, pa.baseAddress!, bias: bb.baseAddress!), MatMulTarget(b, pb.baseAddress!),
                                                MatMulTarget(c, pc.baseAddress!), x, tokens: 1, pool: pool, options: options)
                            }
                        }
                    }
                }
                yg.withUnsafeMutableBufferPointer { GatedFeedForward.multiply(gate: g, up: u, x, into: $0.baseAddress!, pool: pool, options: options) }
                let all = ya + yb + yc + yg
                XCTAssertFalse(all.contains { $0.isNaN }, "\(type), \(threads) threads, \(runs) runs: a row was skipped")
                if reference.isEmpty { reference = all } else { assertBitwiseEqual(all, reference, "\(type), \(threads) threads, \(runs) runs per thread") }
            }
        }
    }

    /// Q8_0 codes of −128 and 127 against activation codes of ±511: products and their
    /// pairwise sums that overflow 16 bits must come out exact.
    func testQ8_0IntegerKernelAtExtremeCodes() {
        let blocks = 7
        var bytes = [UInt8](repeating: 0, count: blocks * 34)
        for b in 0..<blocks {
            bytes[34 * b] = 0x00; bytes[34 * b + 1] = 0x3C  // d = 1
            for i in 0..<32 { bytes[34 * b + 2 + i] = (i + b) % 3 == 0 ? 0x7F : 0x80 }
        }
        // Activations ±1 at full block range: codes exactly ±511 with scale 1/511.
        let x = (0..<32 * blocks).map { i -> Float in (i / 32 + i) % 3 == 0 ? 1 : -1 }
        let a = QuantizedActivations()
        a.quantize(x, count: x.count)
        var want = 0.0
        for b in 0..<blocks {
            var t = 0
            for i in 0..<32 {
                let q = Int(Int8(bitPattern: bytes[34 * b + 2 + i]))
                t += q * Int(a.codes[32 * b + i])
            }
            want += Double(t) * Double(a.scales[b])
        }
        XCTAssertEqual(Int(a.codes[0]).magnitude, 511)
        let got = bytes.withUnsafeBytes { IntegerRowKernels.dot(.q8_0, $0.baseAddress!, a, count: x.count) }
        XCTAssertEqual(Double(got), want, accuracy: abs(want) * 1e-6)
    }
}
