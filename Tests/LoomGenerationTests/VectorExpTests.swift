import Foundation
import XCTest
@testable import LoomGeneration

final class VectorExpTests: XCTestCase {
    /// Within 2 ulp of the double-precision exp on the whole normal range, lane by lane, and the
    /// scalar form equals the vector lanes bit for bit.
    func testAccuracyAgainstFoundationExp() {
        var xs: [Float] = []
        var x: Float = -86.6
        while x <= 88.72 {
            xs.append(x)
            x += 0.000_913
        }
        xs += [0, -0.0, 1e-8, -1e-8, 88.72283, -86.6, 0.5 * Float(M_LN2), -0.5 * Float(M_LN2)]
        while xs.count % 16 != 0 { xs.append(1) }
        var worstUlps = 0.0
        for start in stride(from: 0, to: xs.count, by: 16) {
            var v = SIMD16<Float>()
            for j in 0..<16 { v[j] = xs[start + j] }
            let e = VectorExp.exp(v)
            for j in 0..<16 {
                let reference = Foundation.exp(Double(xs[start + j]))
                let ulp = Double(Float(reference).ulp)
                worstUlps = max(worstUlps, abs(Double(e[j]) - reference) / ulp)
                XCTAssertEqual(VectorExp.exp(xs[start + j]).bitPattern, e[j].bitPattern)
            }
        }
        XCTAssertLessThanOrEqual(worstUlps, 2, "worst error \(worstUlps) ulp")
        XCTAssertEqual(VectorExp.exp(0), 1)  // the max logit's weight is exactly 1
    }

    func testSpecialValues() {
        XCTAssertEqual(VectorExp.exp(-.infinity), 0)
        XCTAssertEqual(VectorExp.exp(-86.61), 0)  // flushed below 2^-125
        XCTAssertEqual(VectorExp.exp(-1000), 0)
        XCTAssertEqual(VectorExp.exp(88.73), .infinity)
        XCTAssertEqual(VectorExp.exp(.infinity), .infinity)
        XCTAssertGreaterThan(VectorExp.exp(-86.59), 0)
        XCTAssertTrue(VectorExp.exp(88.722).isFinite)
    }
}

/// The whole-vocabulary sums built on ``VectorExp`` against plain double loops.
final class LogitScanTests: XCTestCase {
    func testSumsAndMassProfileAgainstDoubleLoops() {
        for (count, seed) in [(1, 1), (15, 2), (256, 3), (257, 4), (151_936, 5)] as [(Int, UInt64)] {
            var logits = SamplingReference.gaussianLogits(count: count, sd: 4, seed: seed)
            if count > 20 { logits[7] = -.infinity }
            let m = logits.max()!
            let weights = logits.map { exp(Double($0) - Double(m)) }
            let total = weights.reduce(0, +)
            let profile = logits.withUnsafeBufferPointer { LogitScan.massProfile($0, max: m) }
            let sum = logits.withUnsafeBufferPointer { LogitScan.sumOfExponentials($0, max: m) }
            XCTAssertEqual(sum, total, accuracy: total * 1e-6, "count \(count)")
            XCTAssertEqual(profile.total, total, accuracy: total * 1e-6, "count \(count)")
            for (j, d) in LogitScan.profileDistances.enumerated() {
                let within = zip(logits, weights).filter { Double(m) - Double($0.0) <= Double(d) }.map(\.1).reduce(0, +)
                XCTAssertEqual(profile.within[j], within, accuracy: total * 1e-6, "count \(count) distance \(d)")
            }
            // In place at temperature 0.5: weights exp((l - m) / 0.5) and their total.
            var scratch = logits
            let inPlace = scratch.withUnsafeMutableBufferPointer { LogitScan.exponentiateInPlace($0, max: m, temperature: 0.5) }
            let tempered = logits.map { exp((Double($0) - Double(m)) / 0.5) }
            XCTAssertEqual(inPlace, tempered.reduce(0, +), accuracy: total * 1e-6)
            for i in stride(from: 0, to: count, by: max(1, count / 100)) {
                // Same float argument as the implementation, so only exp's own error (≤ 2 ulp) counts.
                let argument = Double((logits[i] - m) / 0.5)
                let expected = argument < -86.6 ? 0 : exp(argument)
                XCTAssertEqual(Double(scratch[i]), expected, accuracy: expected * 2.4e-7, "index \(i)")
            }
        }
    }
}
