import XCTest
@testable import LoomKernels

/// The byte-dot decode kernels (``byteDotRow(_:_:_:blocks:)`` and ``byteDotFourRows``,
/// Q4_0/Q4_1/Q5_0/Q5_1) and their parts against their definitions, the naive reference and the 16-bit kernels it replaces
/// on VNNI hosts. (It is also what `IntegerRowKernels.dot` runs there for those formats, so
/// ``IntegerRowKernelsTests`` checks it against the reference too.)
final class IntegerDotBytesTests: XCTestCase {
    func testActivationCodesSplitIntoBytePlanes() throws {
        let a = QuantizedActivations()
        try XCTSkipUnless(a.splitsCodes, "this build has no fast byte dot; the planes are not filled")
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

    /// The byte kernel and the 16-bit kernel it replaces, per format.
    func byteAndSixteenBitDots(_ type: GGMLType, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> (Float, Float) {
        switch type {
        case .q4_0: return (byteDotRow(BlockQ4_0.self, row, a, blocks: blocks), pairwiseDot(BlockQ4_0.self, row, a, blocks: blocks))
        case .q4_1: return (byteDotRow(BlockQ4_1.self, row, a, blocks: blocks), offsetDot(BlockQ4_1.self, row, a, blocks: blocks))
        case .q5_0: return (byteDotRow(BlockQ5_0.self, row, a, blocks: blocks), pairwiseDot(BlockQ5_0.self, row, a, blocks: blocks))
        case .q5_1: return (byteDotRow(BlockQ5_1.self, row, a, blocks: blocks), offsetDot(BlockQ5_1.self, row, a, blocks: blocks))
        default: fatalError("\(type) has no byte kernel")
        }
    }

    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1]

    func testByteDotRowMatchesTheSixteenBitKernelAndTheReference() throws {
        try XCTSkipUnless(IntegerDotBytes.isFast, "no fast byte dot in this build")
        for type in Self.types {
            for blocks in [1, 3, 4, 5, 8, 18, 152] {
                for trial in 0..<4 {
                    var rng = SplitMix64(seed: UInt64(blocks) << 8 | UInt64(trial))
                    let count = 32 * blocks
                    let bytes = TestData.randomRow(type, count: count, &rng)
                    let a = QuantizedActivations()
                    a.quantize(TestData.randomFloats(count, &rng), count: count)
                    let row = GuardedBuffer(bytes: bytes.count)  // an over-read crashes
                    row.start.copyMemory(from: bytes, byteCount: bytes.count)
                    let (got, sixteenBit) = byteAndSixteenBitDots(type, row.start, ActivationBlocks(a), blocks: blocks)
                    let weights = ReferenceKernels.dequantize(type, bytes, count: count)
                    let xq = (0..<count).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
                    let want = referenceDot(weights, xq)
                    // Both kernels sum the same exact integers per block; the bias terms
                    // (m, or −o·d, times d_x·Σx) and the float sums round differently.
                    let label = "\(type), \(blocks) blocks, trial \(trial)"
                    XCTAssertEqual(Double(got), Double(sixteenBit), accuracy: 1e-5 * want.magnitude, label)
                    XCTAssertEqual(Double(got), want.sum, accuracy: 1e-5 * want.magnitude, label)
                }
            }
        }
    }

    /// The four-row kernel against the one-row byte kernel and the naive reference on each
    /// of its rows, and each lane alone (`rowBytes` 0: one row four times) bit for bit
    /// against the same row in a group: what lets decode read any row in any group.
    func testByteDotFourRowsMatchesRowsAndIsTheSameInEveryLane() throws {
        try XCTSkipUnless(IntegerDotBytes.isNative, "the four-row byte kernel runs where the byte dot is native")
        for type in Self.types {
            for blocks in [1, 3, 4, 18, 48] {
                var rng = SplitMix64(seed: UInt64(blocks) << 4 | 7)
                let count = 32 * blocks
                let rowBytes = type.byteCount(elements: count)
                let bytes = TestData.randomRow(type, count: 4 * count, &rng)
                let a = QuantizedActivations()
                a.quantize(TestData.randomFloats(count, &rng), count: count)
                let rows = GuardedBuffer(bytes: bytes.count)  // an over-read crashes
                rows.start.copyMemory(from: bytes, byteCount: bytes.count)
                let blocksA = ActivationBlocks(a)
                let four = IntegerRowKernels.dotFourRows(type, rows.start, rowBytes: rowBytes, blocksA, count: count)
                let weights = ReferenceKernels.dequantize(type, bytes, count: 4 * count)
                let xq = (0..<count).map { Float(a.codes[$0]) * a.scales[$0 / 32] }
                for k in 0..<4 {
                    let label = "\(type), \(blocks) blocks, row \(k)"
                    let row = rows.start + k * rowBytes
                    let want = referenceDot(Array(weights[k * count..<(k + 1) * count]), xq)
                    let (one, _) = byteAndSixteenBitDots(type, row, blocksA, blocks: blocks)
                    XCTAssertEqual(Double(four[k]), want.sum, accuracy: 1e-5 * want.magnitude, label)
                    XCTAssertEqual(Double(four[k]), Double(one), accuracy: 1e-5 * want.magnitude, label)
                    let alone = IntegerRowKernels.dotFourRows(type, row, rowBytes: 0, blocksA, count: count)
                    for lane in 0..<4 { XCTAssertEqual(alone[lane].bitPattern, four[k].bitPattern, "\(label), alone in lane \(lane)") }
                }
            }
        }
    }

    /// d·(u − o) + m from ``ByteDotBlock/unsignedCodes(_:)`` and the block's scales is the
    /// reference dequantisation, element for element.
    func testUnsignedCodesDequantiseToTheReference() {
        func check<K: ByteDotBlock>(_: K.Type, _ type: GGMLType) {
            var rng = SplitMix64(seed: 11)
            for trial in 0..<100 {
                let block = TestData.randomRow(type, count: 32, &rng)
                let want = ReferenceKernels.dequantize(type, block, count: 32)
                block.withUnsafeBytes { p in
                    let u = K.unsignedCodes(p.baseAddress!)
                    let dm = halfPairToFloats(p.loadUnaligned(as: UInt32.self))
                    let m = K.hasMinimum ? dm[1] : 0
                    for i in 0..<32 {
                        let value = dm[0] * (Float(u[i]) - K.unsignedOffset) + m
                        XCTAssertEqual(value, want[i], accuracy: 1e-6 * max(1, want[i].magnitude),
                                       "\(type) trial \(trial) element \(i): u \(u[i])")
                    }
                }
            }
        }
        check(BlockQ4_0.self, .q4_0)
        check(BlockQ4_1.self, .q4_1)
        check(BlockQ5_0.self, .q5_0)
        check(BlockQ5_1.self, .q5_1)
    }

    /// The scales of four blocks (one masked word each, converted together) against each
    /// block's own fields.
    func testScalesAndBiasesOfFourBlocks() {
        func check<K: ByteDotBlock>(_: K.Type, _ type: GGMLType) {
            var rng = SplitMix64(seed: 5)
            let bytes = TestData.randomRow(type, count: 128, &rng)
            bytes.withUnsafeBytes { p in
                let (d, c) = scalesAndBiases(K.self, p.baseAddress!, K.hasMinimum ? ~0 : 0x0000_FFFF)
                for k in 0..<4 {
                    let dm = halfPairToFloats(p.loadUnaligned(fromByteOffset: k * K.bytes, as: UInt32.self))
                    XCTAssertEqual(d[k], dm[0], "\(type) block \(k)")
                    XCTAssertEqual(c[k], (K.hasMinimum ? dm[1] : 0) - K.unsignedOffset * dm[0], "\(type) block \(k)")
                }
            }
        }
        check(BlockQ4_0.self, .q4_0)
        check(BlockQ4_1.self, .q4_1)
        check(BlockQ5_0.self, .q5_0)
        check(BlockQ5_1.self, .q5_1)
    }

    /// The AVX2 form of the split-code dot (16-bit pair sums) gives the byte-dot form's
    /// integers lane for lane, at the extremes of its range too: codes up to 31 against high
    /// planes of −128 and 127 and low planes of 3.
    func testMaddSplitCodeDotIsTheByteDotIntegers() {
        var rng = SplitMix64(seed: 37)
        for trial in 0..<500 {
            var u = SIMD32<UInt8>(), high = SIMD32<Int8>(), low = SIMD32<Int8>()
            for i in 0..<32 {
                switch trial % 3 {
                case 0:  // the extremes
                    u[i] = 31
                    high[i] = Bool.random(using: &rng) ? -128 : 127
                    low[i] = 3
                default:
                    u[i] = UInt8.random(in: 0...31, using: &rng)
                    high[i] = Int8.random(in: .min ... .max, using: &rng)
                    low[i] = Int8.random(in: 0...3, using: &rng)
                }
            }
            let want = portableByteDot32(portableByteDot32(SIMD8<Int32>(), u, high) &<< 2, u, low)
            XCTAssertEqual(maddSplitCodeDot(u, high, low), want, "trial \(trial)")
            XCTAssertEqual(splitCodeDot(u, high, low), want, "trial \(trial)")
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
