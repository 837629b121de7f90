import XCTest
@testable import LoomKernels

/// Half-stored dot and axpy equal the scalar definition on every length around the 16-lane
/// step (tails included), with the halves widened exactly.
final class HalfVectorOpsTests: XCTestCase {
    func testDotAndAxpyMatchScalarDefinition() {
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        for count in [1, 15, 16, 17, 33, 576] {
            let halves = (0..<count).map { _ in floatToHalf(next()) }
            let x = (0..<count).map { _ in next() }
            var expectedDot: Double = 0
            for i in 0..<count { expectedDot += Double(halfToFloat(halves[i])) * Double(x[i]) }
            let dot = halves.withUnsafeBufferPointer { h in x.withUnsafeBufferPointer { HalfVectorOps.dot(h.baseAddress!, $0.baseAddress!, count: count) } }
            XCTAssertEqual(Double(dot), expectedDot, accuracy: 1e-5, "count \(count)")

            var y = (0..<count).map { _ in next() }
            let expectedY = (0..<count).map { y[$0] + 0.75 * halfToFloat(halves[$0]) }
            halves.withUnsafeBufferPointer { h in y.withUnsafeMutableBufferPointer { HalfVectorOps.axpy(0.75, h.baseAddress!, $0.baseAddress!, count: count) } }
            for i in 0..<count { XCTAssertEqual(y[i], expectedY[i], accuracy: 1e-6) }
        }
    }
}
