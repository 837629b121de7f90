import XCTest
@testable import LoomKernels

/// fp16 / bf16 conversions against numpy and gguf-py (fixture), against the by-definition
/// decode in the test target (exhaustively), and the portable fallbacks against the
/// hardware path that is used on this platform.
final class FloatConversionTests: XCTestCase {
    /// NaN results are compared by NaN-ness and sign only: whether a signalling NaN gets its
    /// quiet bit set differs between numpy's software cast and the F16C/fcvt instructions,
    /// and ggml never produces NaN weights, so the payload is not part of the contract.
    func sameHalf(_ got: UInt16, _ want: UInt16) -> Bool {
        let gotNaN = got & 0x7C00 == 0x7C00 && got & 0x3FF != 0
        let wantNaN = want & 0x7C00 == 0x7C00 && want & 0x3FF != 0
        return wantNaN ? gotNaN && got & 0x8000 == want & 0x8000 : got == want
    }

    func sameFloat(_ got: Float, _ want: Float) -> Bool {
        want.isNaN ? got.isNaN && got.sign == want.sign : got.bitPattern == want.bitPattern
    }

    /// Collects failures of a large sweep and reports them once (a few examples), so a sweep
    /// over millions of values neither floods the log nor spends its time in XCTAssert.
    struct Failures {
        var count = 0
        var examples: [String] = []
        mutating func check(_ ok: Bool, _ message: @autoclosure () -> String) {
            if ok { return }
            count += 1
            if examples.count < 8 { examples.append(message()) }
        }
        func assertNone(_ what: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssert(count == 0, "\(what): \(count) mismatches, e.g. \(examples.joined(separator: "; "))", file: file, line: line)
        }
    }

    func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

    func testHalfToFloatMatchesNumpy() throws {
        let fixture = try QuantFixture.load()
        XCTAssertGreaterThan(fixture.halfToFloat.count, 100)
        var failures = Failures()
        for pair in fixture.halfToFloat {
            let h = UInt16(pair[0])
            let want = Float(bitPattern: pair[1])
            failures.check(sameFloat(halfToFloat(h), want), "halfToFloat(\(hex(h))) = \(halfToFloat(h)), want \(want)")
            failures.check(sameFloat(portableHalfToFloat(h), want), "portableHalfToFloat(\(hex(h))) = \(portableHalfToFloat(h)), want \(want)")
        }
        failures.assertNone("half -> float vs numpy")
    }

    func testFloatToHalfMatchesNumpy() throws {
        let fixture = try QuantFixture.load()
        XCTAssertGreaterThan(fixture.floatToHalf.count, 100)
        var failures = Failures()
        for pair in fixture.floatToHalf {
            let f = Float(bitPattern: pair[0])
            let want = UInt16(pair[1])
            failures.check(sameHalf(floatToHalf(f), want), "floatToHalf(\(f) = \(hex(pair[0]))) = \(hex(floatToHalf(f))), want \(hex(want))")
            failures.check(sameHalf(portableFloatToHalf(f), want), "portableFloatToHalf(\(f) = \(hex(pair[0]))) = \(hex(portableFloatToHalf(f))), want \(hex(want))")
        }
        failures.assertNone("float -> half vs numpy")
    }

    func testBF16MatchesGGUFPy() throws {
        let fixture = try QuantFixture.load()
        for pair in fixture.floatToBF16 {
            // Bit-exact including NaNs: ggml's rule ((bits >> 16) | 64) is deterministic.
            XCTAssertEqual(floatToBF16(Float(bitPattern: pair[0])), UInt16(pair[1]), "floatToBF16(\(hex(pair[0])))")
        }
        for pair in fixture.bf16ToFloat {
            XCTAssertEqual(bf16ToFloat(UInt16(pair[0])).bitPattern, pair[1], "bf16ToFloat(\(hex(pair[0])))")
        }
    }

    func testNamedEdgeCases() {
        XCTAssertEqual(floatToHalf(1.0), 0x3C00)
        XCTAssertEqual(floatToHalf(65504), 0x7BFF)
        XCTAssertEqual(floatToHalf(65520), 0x7C00, "tie between 65504 and 65536 rounds to even = inf")
        XCTAssertEqual(floatToHalf(1 + 0x1p-11), 0x3C00, "tie rounds down to even mantissa")
        XCTAssertEqual(floatToHalf(1 + 3 * 0x1p-11), 0x3C02, "tie rounds up to even mantissa")
        XCTAssertEqual(floatToHalf(0x1p-25), 0x0000, "half of the smallest subnormal ties to zero")
        XCTAssertEqual(floatToHalf(0x1.000002p-25), 0x0001)
        XCTAssertEqual(floatToHalf(-0.0), 0x8000)
        XCTAssertEqual(halfToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(halfToFloat(0xFC00), -.infinity)
        XCTAssertEqual(floatToBF16(Float(bitPattern: 0x3F81_8000)), 0x3F82, "bf16 tie to even (up)")
        XCTAssertEqual(floatToBF16(Float(bitPattern: 0x3F80_8000)), 0x3F80, "bf16 tie to even (down)")
        XCTAssertEqual(floatToBF16(Float(bitPattern: 0x7F80_0001)), 0x7FC0, "bf16 signalling NaN is forced quiet")
        XCTAssertEqual(floatToBF16(.infinity), 0x7F80)
    }

    func testEveryHalfDecodesByDefinition() {
        var failures = Failures()
        for bits in 0...UInt16.max {
            let want = ReferenceKernels.half(bits)
            failures.check(sameFloat(halfToFloat(bits), want), "halfToFloat(\(hex(bits))) = \(halfToFloat(bits)), want \(want)")
            failures.check(sameFloat(portableHalfToFloat(bits), want), "portableHalfToFloat(\(hex(bits))) = \(portableHalfToFloat(bits)), want \(want)")
        }
        failures.assertNone("half decode")
    }

    func testEveryHalfRoundTrips() {
        var failures = Failures()
        for bits in 0...UInt16.max where !(bits & 0x7C00 == 0x7C00 && bits & 0x3FF != 0) {
            failures.check(floatToHalf(halfToFloat(bits)) == bits, "round trip \(hex(bits))")
            failures.check(portableFloatToHalf(portableHalfToFloat(bits)) == bits, "portable round trip \(hex(bits))")
        }
        failures.assertNone("half round trip")
    }

    func testPortableFloatToHalfAgreesWithHardware() {
        // ~2 million float bit patterns spread over the whole range (every exponent, both
        // signs, varied low mantissa bits), plus the neighbourhood of every half midpoint.
        var failures = Failures()
        var bits: UInt32 = 0
        repeat {
            let f = Float(bitPattern: bits)
            failures.check(sameHalf(portableFloatToHalf(f), floatToHalf(f)), "float \(hex(bits))")
            bits &+= 2011
        } while bits >= 2011
        for h in UInt16(0)..<0x7C00 {
            let mid = (Double(halfToFloat(h)) + Double(halfToFloat(h + 1))) / 2
            let m = Float(mid).bitPattern
            for f in [m &- 1, m, m &+ 1, m | 0x8000_0000] {
                failures.check(sameHalf(portableFloatToHalf(Float(bitPattern: f)), floatToHalf(Float(bitPattern: f))), "float \(hex(f))")
            }
        }
        failures.assertNone("portable vs hardware float -> half")
    }

    func testVectorHalfConversionMatchesScalar() {
        var failures = Failures()
        for start in stride(from: 0, through: 0xFFF0, by: 16) {
            var v = SIMD16<UInt16>()
            for i in 0..<16 { v[i] = UInt16(start + i) }
            let vector = halvesToFloats(v), portable = portableHalvesToFloats(v), brain = bf16sToFloats(v)
            for i in 0..<16 {
                failures.check(sameFloat(vector[i], halfToFloat(v[i])), "halvesToFloats lane \(hex(v[i]))")
                failures.check(sameFloat(portable[i], halfToFloat(v[i])), "portableHalvesToFloats lane \(hex(v[i]))")
                failures.check(brain[i].bitPattern == bf16ToFloat(v[i]).bitPattern, "bf16sToFloats lane \(hex(v[i]))")
            }
        }
        failures.assertNone("vector conversions")
    }
}
