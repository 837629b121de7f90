import XCTest
@testable import LoomKernels

/// The activation quantiser and every integer row kernel against naive references on
/// random inputs: codes and scales checked from their definition, dot products against a
/// Double sum over the reference-dequantised row and the dequantised activations (the
/// integer products are exact, so only float rounding may differ).
final class IntegerRowKernelsTests: XCTestCase {
    static let integerTypes: [GGMLType] = GGMLType.allCases.filter { IntegerRowKernels.supports($0) }

    func testSupportedTypes() {
        XCTAssertEqual(Set(Self.integerTypes), [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K])
    }

    /// The activations as the kernels see them: code · scale.
    func dequantized(_ a: QuantizedActivations) -> [Float] {
        (0..<a.count).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
    }

    func testQuantizerMatchesDefinition() {
        var rng = SplitMix64(seed: 42)
        for count in [32, 64, 576, 896] {
            var x = TestData.randomFloats(count, &rng)
            // An all-zero block and a block with one huge outlier.
            if count >= 96 {
                for i in 32..<64 { x[i] = 0 }
                x[70] = 1e6
            }
            let a = QuantizedActivations()
            a.quantize(x, count: count)
            XCTAssertEqual(a.count, count)
            for b in 0..<count / 32 {
                let block = x[32 * b..<32 * b + 32]
                let amax = block.map(abs).max()!
                let d = amax / Float(QuantizedActivations.codeLimit)
                XCTAssertEqual(a.scales[b], d, "block \(b) scale")
                var sum = 0
                for i in 32 * b..<32 * b + 32 {
                    let code = Int(a.codes[i])
                    sum += code
                    XCTAssertLessThanOrEqual(abs(code), QuantizedActivations.codeLimit)
                    let want = d > 0 ? (x[i] / d).rounded(.toNearestOrEven) : 0
                    XCTAssertEqual(Float(code), want, "element \(i)")
                }
                XCTAssertEqual(a.sums[b], d * Float(sum), accuracy: abs(d * Float(sum)) * 1e-6, "block \(b) sum")
            }
        }
    }

    func testQuantizerGrowsAndReuses() {
        let a = QuantizedActivations(capacity: 32)
        var rng = SplitMix64(seed: 7)
        let long = TestData.randomFloats(1024, &rng)
        a.quantize(long, count: 1024)
        XCTAssertEqual(a.count, 1024)
        let short = TestData.randomFloats(64, &rng)
        a.quantize(short, count: 64)
        XCTAssertEqual(a.count, 64)
        XCTAssertEqual(Float(a.codes[0]) * a.scales[0], short[0], accuracy: a.scales[0] / 2 * 1.0001)
    }

    func check(_ type: GGMLType, count: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bytes = TestData.randomRow(type, count: count, &rng)
        let x = TestData.randomFloats(count, &rng)
        let a = QuantizedActivations()
        a.quantize(x, count: count)
        let weights = ReferenceKernels.dequantize(type, bytes, count: count)
        // The row ends right before an unmapped page, so an over-read crashes.
        let row = GuardedBuffer(bytes: bytes.count)
        row.start.copyMemory(from: bytes, byteCount: bytes.count)
        let got = IntegerRowKernels.dot(type, row.start, a, count: count)
        assertDot(got, referenceDot(weights, dequantized(a)), "\(type) integer dot, \(count) elements, seed \(seed)")
        // And it stays within the activation rounding of the exact-activation result: each
        // element moves by at most half a quantisation step of its block.
        let exact = referenceDot(weights, x)
        var bound = 0.0
        for i in 0..<count { bound += Double(abs(weights[i])) * Double(a.scales[i / 32]) / 2 }
        XCTAssert(abs(Double(got) - exact.sum) <= bound * 1.001 + 1e-5 * exact.magnitude,
                  "\(type): integer \(got) vs float \(exact.sum), bound \(bound)")
    }

    func testIntegerKernelsMatchReference() {
        for type in Self.integerTypes {
            for blocks in [1, 2, 3, 7] {
                for trial in 0..<6 {
                    check(type, count: blocks * type.blockSize, seed: UInt64(type.rawValue) << 32 | UInt64(blocks) << 8 | UInt64(trial))
                }
            }
        }
    }

    func testRealisticRowLengths() {
        for type in Self.integerTypes {
            for count in [576, 896, 1536, 4864] where count % type.blockSize == 0 {
                check(type, count: count, seed: 0xBEEF ^ UInt64(count) ^ UInt64(type.rawValue) << 40)
            }
        }
    }

    func testDotUsesOnlyTheFirstCountElements() {
        // A dispatch quantises once for the widest matrix; narrower rows read a prefix.
        var rng = SplitMix64(seed: 99)
        let x = TestData.randomFloats(512, &rng)
        let a = QuantizedActivations()
        a.quantize(x, count: 512)
        let bytes = TestData.randomRow(.q4_1, count: 256, &rng)
        let weights = ReferenceKernels.dequantize(.q4_1, bytes, count: 256)
        let got = bytes.withUnsafeBytes { IntegerRowKernels.dot(.q4_1, $0.baseAddress!, a, count: 256) }
        assertDot(got, referenceDot(weights, Array(dequantized(a).prefix(256))), "prefix")
    }

    /// The half-block code sums Q6_K's byte kernel subtracts its −32 with.
    func testHalfSumsAreTheSumsOfEachSixteenCodes() {
        var rng = SplitMix64(seed: 17)
        let a = QuantizedActivations()
        a.quantize(TestData.randomFloats(512, &rng), count: 512)
        for k in 0..<32 {
            XCTAssertEqual(Int(a.halfSums[k]), (16 * k..<16 * k + 16).reduce(0) { $0 + Int(a.codes[$1]) }, "half \(k)")
        }
    }

    /// Q6_K's byte kernel (IntegerDotQ6_K.swift) and its 16-bit kernel sum the same integers:
    /// they agree to float rounding, also at the code extremes (q = 0 and 63 against
    /// activation codes ±511) and with scales of −128.
    func testQ6_KByteKernelMatchesTheSixteenBitKernel() throws {
        try XCTSkipUnless(BlockQ6_K.hasByteKernel, "no byte multiply-add in this build")
        var rng = SplitMix64(seed: 23)
        for trial in 0..<20 {
            let count = 256 * (1 + trial % 4)
            var bytes = TestData.randomRow(.q6_K, count: count, &rng)
            var x = TestData.randomFloats(count, &rng)
            if trial % 2 == 0 {
                for b in 0..<count / 256 {
                    let p = 210 * b
                    for i in 0..<192 { bytes[p + i] = trial % 4 == 0 ? 0xFF : 0x00 }  // every code 63, or every code 0
                    for i in 192..<208 { bytes[p + i] = 0x80 }  // scales −128
                }
                for i in 0..<count { x[i] = i % 2 == 0 ? 1 : -1 }  // codes ±511
            }
            let a = QuantizedActivations()
            a.quantize(x, count: count)
            let blocks = ActivationBlocks(a)
            bytes.withUnsafeBytes { p in
                let got = BlockQ6_K.dotBytes(p.baseAddress!, blocks, blocks: count / 256)
                let want = BlockQ6_K.dotSixteenBit(p.baseAddress!, blocks, blocks: count / 256)
                let weights = ReferenceKernels.dequantize(.q6_K, bytes, count: count)
                let reference = referenceDot(weights, dequantized(a))
                XCTAssertEqual(Double(got), Double(want), accuracy: 1e-5 * reference.magnitude + 1e-6, "trial \(trial)")
                XCTAssertEqual(Double(got), reference.sum, accuracy: 1e-5 * reference.magnitude + 1e-6, "trial \(trial)")
            }
        }
    }
}

/// Single-token matrix products through the integer path (grouped targets, biases, both
/// thread counts) against a naive product with the dequantised weights and activations.
final class MatMulIntegerTests: XCTestCase {
    func testOneTokenProductsUseIntegerKernels() {
        var rng = SplitMix64(seed: 2024)
        let columns = 512
        let types: [GGMLType] = [.q4_1, .q5_K, .q5_0]
        let rows = [37, 20, 45]
        let rowBytes = types.indices.map { TestData.randomRow(types[$0], count: rows[$0] * columns, &rng) }
        let bias = (0..<rows[1]).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = TestData.randomFloats(columns, &rng)
        let a = QuantizedActivations()
        a.quantize(x, count: columns)
        let xq = (0..<columns).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
        for threads in [1, 2] {
            let pool = ThreadPool(threadCount: threads)
            let outs = rows.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
            defer { outs.forEach { $0.deallocate() } }
            for m in types.indices { outs[m].initialize(repeating: .nan, count: rows[m]) }
            let buffers = rowBytes.map { bytes -> UnsafeMutableRawPointer in
                let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
                p.copyMemory(from: bytes, byteCount: bytes.count)
                return p
            }
            defer { buffers.forEach { $0.deallocate() } }
            let matrices = types.indices.map { WeightMatrix(type: types[$0], rows: rows[$0], columns: columns, base: buffers[$0]) }
            bias.withUnsafeBufferPointer { b in
                MatMul.multiply(MatMulTarget(matrices[0], outs[0]), MatMulTarget(matrices[1], outs[1], bias: b.baseAddress),
                                MatMulTarget(matrices[2], outs[2]), x, tokens: 1, pool: pool)
            }
            let outputs = types.indices.map { Array(UnsafeBufferPointer(start: outs[$0], count: rows[$0])) }
            for m in types.indices {
                let w = ReferenceKernels.dequantize(types[m], rowBytes[m], count: rows[m] * columns)
                for r in 0..<rows[m] {
                    let want = referenceDot(Array(w[r * columns..<(r + 1) * columns]), xq)
                    let b = m == 1 ? Double(bias[r]) : 0
                    assertDot(outputs[m][r] - Float(b), (want.sum, want.magnitude + abs(b)), "\(types[m]) row \(r), \(threads) threads")
                }
            }
        }
    }

}
