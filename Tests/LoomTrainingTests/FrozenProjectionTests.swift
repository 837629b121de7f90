import XCTest
import LoomKernels
@testable import LoomTraining

/// The frozen base product and its transposed product on stored (quantised) weights equal
/// the dense products with the dequantised matrix — the QLoRA path, which never expands the
/// whole matrix.
final class FrozenProjectionTests: XCTestCase {
    func check(_ type: GGMLType, rows: Int, columns: Int, tokens: Int, threads: Int) {
        let values = GradientCheck.values(rows * columns, seed: 31).map(Float.init)
        var bytes: [UInt8] = []
        for r in 0..<rows { bytes += RowQuantizer.quantize(type, Array(values[r * columns..<(r + 1) * columns])) }
        bytes.withUnsafeBytes { raw in
            let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
            var dense = [Float](repeating: 0, count: rows * columns)
            for r in 0..<rows { w.dequantizeRow(r, into: &dense[r * columns]) }
            let p = FrozenProjection(weight: w)
            let pool = ThreadPool(threadCount: threads)
            let x = GradientCheck.values(tokens * columns, seed: 32).map(Float.init)
            let dy = GradientCheck.values(tokens * rows, seed: 33).map(Float.init)
            var y = [Float](repeating: 0, count: tokens * rows), yDense = y
            p.forward(x, tokens: tokens, into: &y, pool: pool)
            DenseOps.multiplyTransposed(x, dense, tokens: tokens, inputs: columns, outputs: rows, into: &yDense)
            var dx = [Float](repeating: 0.5, count: tokens * columns), dxDense = dx
            p.accumulateInputGradient(dy, tokens: tokens, into: &dx, pool: pool)
            DenseOps.multiply(dy, dense, tokens: tokens, inputs: columns, outputs: rows, into: &dxDense, accumulate: true)
            for i in 0..<y.count { XCTAssertEqual(y[i], yDense[i], accuracy: 1e-3, "\(type) forward \(i)") }
            for i in 0..<dx.count { XCTAssertEqual(dx[i], dxDense[i], accuracy: 1e-3, "\(type) dx \(i)") }
        }
    }

    func testTransposedProductOnQuantisedAndFloatWeights() {
        // 70 rows: two full tiles of 32 and a partial one; 576 columns: 2 slices of 256 and a partial.
        for type in [GGMLType.f32, .f16, .bf16, .q8_0, .q4_0] {
            check(type, rows: 70, columns: 576, tokens: 3, threads: 2)
        }
        check(.q4_K, rows: 40, columns: 512, tokens: 2, threads: 2)
    }
}
