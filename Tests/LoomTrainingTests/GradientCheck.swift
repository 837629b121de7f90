import XCTest
import LoomGeneration
@testable import LoomTraining

/// Central finite differences in Float64 for the backward ops' gradient checks.
enum GradientCheck {
    /// Deterministic values in [-1, 1) (splitmix64), so failures reproduce.
    static func values(_ count: Int, seed: UInt64, scale: Double = 1) -> [Double] {
        var r = SplitMix64(seed: seed)
        return (0..<count).map { _ in (Double(r.next() >> 11) / Double(1 << 53) * 2 - 1) * scale }
    }

    /// ∂f/∂x_i by (f(x + h e_i) − f(x − h e_i)) / 2h.
    static func numeric(_ x: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        (0..<x.count).map { i in
            var p = x, m = x
            p[i] += h
            m[i] -= h
            return (f(p) - f(m)) / (2 * h)
        }
    }

    /// Asserts `analytic` equals `numeric` within `tolerance` relative to the largest entry.
    static func assertClose(_ analytic: [Double], _ numeric: [Double], tolerance: Double = 1e-6, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(analytic.count, numeric.count, what, file: file, line: line)
        let scale = max(1e-3, numeric.map(abs).max() ?? 0)
        let worst = zip(analytic, numeric).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst / scale, tolerance, "\(what): max |analytic − numeric| \(worst), scale \(scale)", file: file, line: line)
        XCTAssertGreaterThan(numeric.map(abs).max() ?? 0, 1e-6, "\(what): the gradient is ~0, the check would not test anything",
                             file: file, line: line)
    }

    /// Runs `body` with mutable pointers to copies of arrays.
    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}

extension Array where Element == Double {
    /// A pointer to a copy, for the ops' pointer API (the buffer lives as long as the closure).
    func withBuffer<R>(_ body: (UnsafeMutablePointer<Double>) -> R) -> R {
        var copy = self
        return copy.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
