import XCTest
import LoomKernels
@testable import LoomTraining

/// The training GEMM against a naive triple loop (Float64 sums over the dequantised weight),
/// both forms, every weight type, on shapes that are not multiples of its tiles: one row,
/// rows past the 6-row micro-panel and the 144-row block, columns past the 16-column
/// panel and the 8-panel chunk, depths past the 256-deep slice.
final class TrainingGEMMTests: XCTestCase {
    /// Runs both forms for `w`'s type on one shape, with and without bias/accumulation, on
    /// one and two threads, and checks the two thread counts agree bit for bit.
    func check(_ type: GGMLType, m: Int, rows: Int, columns: Int, file: StaticString = #filePath, line: UInt = #line) {
        let values = GradientCheck.values(rows * columns, seed: UInt64(41 + rows + columns)).map(Float.init)
        var bytes: [UInt8] = []
        for r in 0..<rows { bytes += RowQuantizer.quantize(type, Array(values[r * columns..<(r + 1) * columns])) }
        bytes.withUnsafeBytes { raw in
            let w = WeightMatrix(type: type, rows: rows, columns: columns, base: raw.baseAddress!)
            var dense = [Float](repeating: 0, count: rows * columns)
            for r in 0..<rows { w.dequantizeRow(r, into: &dense[r * columns]) }
            for form in [TrainingGEMM.Form.transposed, .plain] {
                let depth = form == .transposed ? columns : rows, width = form == .transposed ? rows : columns
                // A with a row stride past its row length (a strided view must work).
                let lda = depth + 3
                let a = GradientCheck.values(m * lda, seed: 42).map(Float.init)
                let bias = GradientCheck.values(width, seed: 43).map(Float.init)
                let start = GradientCheck.values(m * width, seed: 44).map(Float.init)
                for accumulate in [false, true] {
                    var expected = [Double](repeating: 0, count: m * width)
                    var scale = [Double](repeating: 0, count: m * width)
                    for i in 0..<m {
                        for j in 0..<width {
                            var s = 0.0, t = 0.0
                            for k in 0..<depth {
                                let b = Double(form == .transposed ? dense[j * columns + k] : dense[k * columns + j])
                                s += Double(a[i * lda + k]) * b
                                t += abs(Double(a[i * lda + k]) * b)
                            }
                            expected[i * width + j] = s + (accumulate ? Double(start[i * width + j]) : Double(bias[j]))
                            scale[i * width + j] = t + 1
                        }
                    }
                    var outputs: [[Float]] = []
                    for threads in [1, 2] {
                        var c = accumulate ? start : [Float](repeating: .nan, count: m * width)
                        TrainingGEMM.multiply(a, rows: m, lda: lda, w, form: form, into: &c, ldc: width, accumulate: accumulate,
                                              bias: accumulate ? nil : bias, pool: ThreadPool(threadCount: threads))
                        outputs.append(c)
                    }
                    let what = "\(type) \(form) m=\(m) W=\(rows)×\(columns) accumulate=\(accumulate)"
                    var worst = 0.0
                    for i in 0..<expected.count {
                        worst = max(worst, abs(Double(outputs[0][i]) - expected[i]) / scale[i])
                    }
                    XCTAssertLessThan(worst, 1e-5, "\(what): worst relative error", file: file, line: line)
                    XCTAssertEqual(outputs[0], outputs[1], "\(what): one and two threads differ", file: file, line: line)
                }
            }
        }
    }

    func testFloatWeightsOnOddShapes() {
        for type in [GGMLType.f32, .f16, .bf16] {
            check(type, m: 1, rows: 1, columns: 1)
            check(type, m: 7, rows: 17, columns: 5)
            // Depth 700 (slices of 234, 234 and 232), 150 rows (past 144), 150 columns (> 8 panels).
            check(type, m: 150, rows: 150, columns: 700)
            check(type, m: 13, rows: 700, columns: 150)
        }
    }

    func testBlockWeightsOnOddShapes() {
        for type in [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] {
            check(type, m: 1, rows: 3, columns: 32)
            // 288 columns: one slice; a plain-form cover that starts mid-block. 736: slices of
            // 256, 256 and 224 (whole blocks).
            check(type, m: 11, rows: 21, columns: 288)
            check(type, m: 7, rows: 5, columns: 736)
            check(type, m: 146, rows: 270, columns: 96)
        }
        for type in [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .tq1_0, .tq2_0] {
            check(type, m: 1, rows: 1, columns: 256)
            check(type, m: 9, rows: 19, columns: 512)
        }
        check(.q6_K, m: 8, rows: 3, columns: 768)
    }

    /// Slices are whole blocks, no deeper than the L1 budget, and as even as blocks allow.
    func testSliceDepths() {
        XCTAssertEqual(TrainingGEMM.sliceDepth(576, blockSize: 32), 288)   // SmolLM2: 2 × 288, not 256 + 256 + 64
        XCTAssertEqual(TrainingGEMM.sliceDepth(1536, blockSize: 32), 320)
        XCTAssertEqual(TrainingGEMM.sliceDepth(192, blockSize: 1), 192)
        XCTAssertEqual(TrainingGEMM.sliceDepth(4096, blockSize: 256), 256)
        for depth in [1, 31, 32, 320, 321, 575, 576, 896, 1536, 4864, 14336] {
            for block in [1, 32, 256] where block == 1 || depth % block == 0 {
                let slice = TrainingGEMM.sliceDepth(depth, blockSize: block)
                XCTAssertEqual(slice % block, 0, "\(depth)/\(block)")
                XCTAssertLessThanOrEqual(slice, max(block, TrainingGEMM.kc), "\(depth)/\(block)")
                let slices = (depth + slice - 1) / slice
                XCTAssertEqual(slices, (depth + TrainingGEMM.kc / block * block - 1) / (TrainingGEMM.kc / block * block), "\(depth)/\(block): no more slices than needed")
            }
        }
    }

    func testEmptyDepthWritesTheBias() {
        // A weight of no rows in the plain form: depth 0, so C = bias (or unchanged).
        let w = WeightMatrix(type: .f32, rows: 0, columns: 3, base: UnsafeRawPointer(bitPattern: 16)!)
        var c = [Float](repeating: 7, count: 6)
        TrainingGEMM.multiply([Float](), rows: 2, lda: 0, w, form: .plain, into: &c, ldc: 3, accumulate: false, bias: [1, 2, 3],
                              pool: ThreadPool(threadCount: 1))
        XCTAssertEqual(c, [1, 2, 3, 1, 2, 3])
        TrainingGEMM.multiply([Float](), rows: 2, lda: 0, w, form: .plain, into: &c, ldc: 3, accumulate: true, pool: ThreadPool(threadCount: 1))
        XCTAssertEqual(c, [1, 2, 3, 1, 2, 3])
    }
}
