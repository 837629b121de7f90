import XCTest
@testable import LoomKernels

/// The byte-dot Q4_0 decode kernel (``byteDotRow(_:_:_:blocks:)``) and its parts against
/// their definitions and the 16-bit kernel it replaces on VNNI hosts. (The kernel is also
/// what `IntegerRowKernels.dot(.q4_0, …)` runs there, so ``IntegerRowKernelsTests`` checks it
/// against the naive reference too.)
final class IntegerDotBytesTests: XCTestCase {
    func testActivationCodesSplitIntoBytePlanes() throws {
        let a = QuantizedActivations()
        try XCTSkipUnless(a.splitsCodes, "this build has no native byte dot; the planes are not filled")
        var rng = SplitMix64(seed: 3)
        var x = TestData.randomFloats(896, &rng)
        x[5] = 40; x[6] = -40  // codes ±511 in block 0
        a.quantize(x, count: 896)
        for i in 0..<896 {
            let high = Int(a.highCodes[i]), low = Int(a.lowCodes[i])
            XCTAssert((0...3).contains(low), "element \(i): low \(low)")
            XCTAssertEqual(4 * high + low, Int(a.codes[i]), "element \(i)")
        }
    }

    func testByteDotRowMatchesTheSixteenBitKernel() throws {
        try XCTSkipUnless(IntegerDotBytes.isNative, "no native byte dot in this build")
        for blocks in [1, 3, 4, 5, 8, 18, 152] {
            for trial in 0..<4 {
                var rng = SplitMix64(seed: UInt64(blocks) << 8 | UInt64(trial))
                let count = 32 * blocks
                let bytes = TestData.randomRow(.q4_0, count: count, &rng)
                let a = QuantizedActivations()
                a.quantize(TestData.randomFloats(count, &rng), count: count)
                let row = GuardedBuffer(bytes: bytes.count)  // an over-read crashes
                row.start.copyMemory(from: bytes, byteCount: bytes.count)
                let blocksView = ActivationBlocks(a)
                let got = byteDotRow(BlockQ4_0.self, row.start, blocksView, blocks: blocks)
                let want = pairwiseDot(BlockQ4_0.self, row.start, blocksView, blocks: blocks)
                let weights = ReferenceKernels.dequantize(.q4_0, bytes, count: count)
                let xq = (0..<count).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
                let magnitude = referenceDot(weights, xq).magnitude
                XCTAssertEqual(Double(got), Double(want), accuracy: 1e-5 * magnitude, "\(blocks) blocks, trial \(trial)")
            }
        }
    }

    func testUnsignedCodesAreTheStoredNibbles() {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let block = TestData.randomRow(.q4_0, count: 32, &rng)
            let u = block.withUnsafeBytes { BlockQ4_0.unsignedCodes($0.baseAddress!) }
            for i in 0..<16 {
                XCTAssertEqual(u[i], block[2 + i] & 0x0F, "element \(i)")
                XCTAssertEqual(u[16 + i], block[2 + i] >> 4, "element \(16 + i)")
            }
        }
    }

    func testPortableByteDotMatchesBuild() {
        var rng = SplitMix64(seed: 31)
        for _ in 0..<200 {
            var u = SIMD32<UInt8>(), s = SIMD32<Int8>(), acc = SIMD8<Int32>()
            for i in 0..<32 {
                u[i] = UInt8.random(in: .min ... .max, using: &rng)
                s[i] = Int8.random(in: .min ... .max, using: &rng)
            }
            for i in 0..<8 { acc[i] = Int32.random(in: -1_000_000...1_000_000, using: &rng) }
            var want = acc
            for i in 0..<8 { for k in 0..<4 { want[i] += Int32(u[4 * i + k]) * Int32(s[4 * i + k]) } }
            XCTAssertEqual(byteDot32(acc, u, s), want)
            XCTAssertEqual(portableByteDot32(acc, u, s), want)
        }
    }
}
