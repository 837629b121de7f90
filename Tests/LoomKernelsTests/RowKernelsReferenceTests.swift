import XCTest
@testable import LoomKernels

/// Every SIMD kernel against the naive scalar reference on many random rows generated here.
final class RowKernelsReferenceTests: XCTestCase {
    static let quantised: [GGMLType] = GGMLType.allCases.filter { $0.blockSize > 1 }
    static let unquantised: [GGMLType] = [.f32, .f16, .bf16]

    func check(_ type: GGMLType, count: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bytes = TestData.randomRow(type, count: count, &rng)
        let x = TestData.randomFloats(count, &rng)
        let expected = ReferenceKernels.dequantize(type, bytes, count: count)

        // Row, activations and output each end right before an unmapped page, so reading
        // or writing past the end of the row crashes instead of passing unnoticed.
        let row = GuardedBuffer(bytes: bytes.count)
        row.start.copyMemory(from: bytes, byteCount: bytes.count)
        let xs = GuardedBuffer(bytes: 4 * count)
        let xPointer = xs.start.bindMemory(to: Float.self, capacity: count)
        xPointer.update(from: x, count: count)
        let out = GuardedBuffer(bytes: 4 * count)
        let outPointer = out.start.bindMemory(to: Float.self, capacity: count)
        outPointer.update(repeating: .nan, count: count)

        RowKernels.dequantize(type, row.start, into: outPointer, count: count)
        assertBitwiseEqual(Array(UnsafeBufferPointer(start: outPointer, count: count)), expected,
                           "\(type) dequantize, \(count) elements, seed \(seed)")
        let dot = RowKernels.dot(type, row.start, xPointer, count: count)
        assertDot(dot, referenceDot(expected, x), "\(type) dot, \(count) elements, seed \(seed)")
    }

    func testQuantisedKernelsMatchReference() {
        for type in Self.quantised {
            for blocks in [1, 2, 7] {
                for trial in 0..<8 {
                    check(type, count: blocks * type.blockSize, seed: UInt64(type.rawValue) << 32 | UInt64(blocks) << 8 | UInt64(trial))
                }
            }
        }
    }

    func testUnquantisedKernelsMatchReference() {
        // Lengths around the SIMD widths (16) and the 4×16 unrolled main loop (64).
        let counts = [0, 1, 2, 15, 16, 17, 31, 63, 64, 65, 100, 127, 128, 129, 576, 1000]
        for type in Self.unquantised {
            for count in counts {
                check(type, count: count, seed: UInt64(type.rawValue) << 32 | UInt64(count))
            }
        }
    }

    func testRealisticRowLengths() {
        // The widths of the test models' matrices (SmolLM2 576/1536, Qwen2.5-0.5B 896/4864).
        for type in GGMLType.allCases {
            for count in [576, 896, 1536, 4864] where count % type.blockSize == 0 {
                check(type, count: count, seed: 0xC0FFEE ^ UInt64(count) ^ UInt64(type.rawValue) << 40)
            }
        }
    }

    func testDotF32AgainstDoubleSum() {
        var rng = SplitMix64(seed: 42)
        for count in [0, 1, 3, 15, 16, 17, 48, 63, 64, 65, 79, 130, 4096, 4099] {
            let a = TestData.randomFloats(count, &rng), b = TestData.randomFloats(count, &rng)
            let xs = GuardedBuffer(bytes: 4 * count), ys = GuardedBuffer(bytes: 4 * count)
            let ap = xs.start.bindMemory(to: Float.self, capacity: count)
            let bp = ys.start.bindMemory(to: Float.self, capacity: count)
            ap.update(from: a, count: count)
            bp.update(from: b, count: count)
            assertDot(RowKernels.dotF32(ap, bp, count: count), referenceDot(a, b), "dotF32 count \(count)")
        }
    }

    func testDotIsExactForSmallIntegers() {
        // Integer-valued Q8_0 weights with d = 1 and integer activations: every product and
        // partial sum is an exactly representable integer, so the result must be exact.
        let blocks = 4
        var bytes = [UInt8]()
        var x = [Float]()
        for b in 0..<blocks {
            bytes += [0x00, 0x3C]                                         // d = 1.0
            bytes += (0..<32).map { UInt8(bitPattern: Int8(($0 * 7 + b * 3) % 41 - 20)) }
            x += (0..<32).map { Float(($0 + b) % 9 - 4) }
        }
        var want = 0
        for i in 0..<blocks * 32 {
            want += Int(Int8(bitPattern: bytes[(i / 32) * 34 + 2 + i % 32])) * Int(x[i])
        }
        let got = bytes.withUnsafeBytes { r in x.withUnsafeBufferPointer { RowKernels.dot(.q8_0, r.baseAddress!, $0.baseAddress!, count: blocks * 32) } }
        XCTAssertEqual(got, Float(want))
    }
}
