import Foundation
import XCTest
@testable import LoomKernels

/// `Fixtures/quantize_fixtures.json`, made by `scripts/gen_quantize_fixtures.py`: rows and the
/// blocks gguf-py (legacy types) or llama.cpp's compiled `quantize_row_q*_K_ref` made of them.
struct QuantizeFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let type: String
        let typeId: UInt32
        let source: String
        let x: String
        let blocks: String
    }
    let reference: String
    let cases: [Case]

    static func load() throws -> QuantizeFixture {
        guard let url = Bundle.module.url(forResource: "quantize_fixtures", withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError("Fixtures/quantize_fixtures.json is missing from the test bundle")
        }
        return try JSONDecoder().decode(QuantizeFixture.self, from: Data(contentsOf: url))
    }
}

extension QuantizeFixture.Case {
    /// The case decoded: its type, input floats and expected blocks.
    func decoded() throws -> (type: GGMLType, x: [Float], blocks: [UInt8]) {
        guard let type = GGMLType(rawValue: typeId), type.description == self.type else {
            throw FixtureError("\(name): unknown type \(self.type) (\(typeId))")
        }
        guard let x = [UInt8](hex: self.x), let blocks = [UInt8](hex: self.blocks) else { throw FixtureError("\(name): bad hex") }
        return (type, x.asFloats, blocks)
    }
}

final class RowQuantizerTests: XCTestCase {
    static let legacy: Set<GGMLType> = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1]
    static let kQuants: Set<GGMLType> = [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    func dequantize(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { RowKernels.dequantize(type, src.baseAddress!, into: $0.baseAddress!, count: count) }
        }
        return out
    }

    func rmse(_ a: [Float], _ b: [Float]) -> Double {
        var s = 0.0
        for i in a.indices { let d = Double(a[i]) - Double(b[i]); s += d * d }
        return (s / Double(a.count)).squareRoot()
    }

    func fixtureCases() throws -> [(QuantizeFixture.Case, GGMLType, [Float], [UInt8])] {
        let fixture = try QuantizeFixture.load()
        XCTAssertGreaterThan(fixture.cases.count, 100)
        return try fixture.cases.map { c in
            let d = try c.decoded()
            return (c, d.type, d.x, d.blocks)
        }
    }

    /// Legacy formats: byte-identical to gguf-py on every fixture row.
    func testLegacyTypesMatchGGUFPyByteForByte() throws {
        var checked = 0
        for (c, type, x, expected) in try fixtureCases() where Self.legacy.contains(type) {
            let got = RowQuantizer.quantize(type, x)
            XCTAssertEqual(got.count, expected.count)
            if got != expected {
                let i = got.indices.first { got[$0] != expected[$0] } ?? -1
                XCTFail("\(type) \(c.name): first differing byte \(i) (block \(i / type.blockBytes)) vs \(c.source)")
            }
            checked += 1
        }
        XCTAssertEqual(checked, 5 * 13)
    }

    /// K-quants: identical to llama.cpp's reference compiled without FMA contraction; and in
    /// any case never a larger round-trip error than the reference's.
    func testKQuantsMatchLlamaCppReference() throws {
        var checked = 0, identical = 0
        for (c, type, x, expected) in try fixtureCases() where Self.kQuants.contains(type) {
            let got = RowQuantizer.quantize(type, x)
            XCTAssertEqual(got.count, expected.count)
            if got == expected { identical += 1 } else {
                let i = got.indices.first { got[$0] != expected[$0] } ?? -1
                XCTFail("\(type) \(c.name): first differing byte \(i) (block \(i / type.blockBytes)) vs \(c.source)")
            }
            let ours = rmse(dequantize(type, got, count: x.count), x)
            let theirs = rmse(dequantize(type, expected, count: x.count), x)
            XCTAssertLessThanOrEqual(ours, theirs * (1 + 1e-6) + 1e-30, "\(type) \(c.name)")
            checked += 1
        }
        XCTAssertEqual(checked, 5 * 13)
        XCTAssertEqual(identical, checked)
    }

    /// Round-trip error on Gaussian weights stays within the usual bound for each format
    /// (relative RMSE, limits about 1.25x the expected value for each format's bit width).
    func testRoundTripErrorBounds() {
        var rng = SplitMix64(seed: 7)
        let n = 4096
        let x: [Float] = (0..<n).map { _ in
            // Box-Muller
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)) * 0.02
        }
        let limits: [GGMLType: Double] = [
            .f32: 0, .f16: 0.001, .bf16: 0.005, .q8_0: 0.0065, .q6_K: 0.022, .q5_1: 0.048, .q5_0: 0.053,
            .q5_K: 0.045, .q4_1: 0.098, .q4_0: 0.106, .q4_K: 0.088, .q3_K: 0.19, .q2_K: 0.37,
            // Ternary: max|x| per 256 as the only level, so most Gaussian weights become 0.
            .tq1_0: 0.85, .tq2_0: 0.85,
        ]
        let rms = (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)).squareRoot()
        for type in GGMLType.allCases where !type.holdsIntegers {
            let q = RowQuantizer.quantize(type, x)
            XCTAssertEqual(q.count, type.byteCount(elements: n))
            let rel = rmse(dequantize(type, q, count: n), x) / rms
            XCTAssertLessThanOrEqual(rel, limits[type]!, "\(type)")
        }
    }

    /// Non-finite and huge values must not crash (the reference's output is undefined there).
    func testNonFiniteInputDoesNotCrash() {
        var x = [Float](repeating: 0.5, count: 512)
        x[3] = .nan; x[40] = .infinity; x[300] = -.infinity; x[301] = 3e38
        for type in GGMLType.allCases where !type.holdsIntegers {
            XCTAssertEqual(RowQuantizer.quantize(type, x).count, type.byteCount(elements: 512))
        }
    }

    func testCanQuantize() {
        XCTAssertTrue(RowQuantizer.canQuantize(.q4_K, count: 512))
        XCTAssertFalse(RowQuantizer.canQuantize(.q4_K, count: 576))
        XCTAssertTrue(RowQuantizer.canQuantize(.q8_0, count: 576))
        XCTAssertFalse(RowQuantizer.canQuantize(.q8_0, count: 33))
        XCTAssertTrue(RowQuantizer.canQuantize(.f16, count: 33))
    }
}
