import Foundation
import XCTest
import LoomKernels
@testable import LoomModels

/// Every projection goes through one seam: an adapter attached to any of them (q in the
/// fused Q/K/V dispatch, o, gate/up on the fused single-token path and the batched one,
/// down, and the LM head) must change the logits exactly as merging its product into the
/// stored weight does.
final class ProjectionSeamTests: XCTestCase {
    /// `y += Δ·x` for a dense `[rows × columns]` Δ (a LoRA's `s·B·A`, merged).
    final class DenseDelta: ProjectionAdapter, @unchecked Sendable {
        let delta: [Float]
        let rows: Int, columns: Int
        private(set) var calls = 0

        init(rows: Int, columns: Int, seed: UInt64) {
            self.rows = rows
            self.columns = columns
            var s = seed
            delta = (0..<rows * columns).map { _ in
                s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.2
            }
        }

        func addProduct(input: UnsafePointer<Float>, tokens: Int, inputColumns: Int,
                        output: UnsafeMutablePointer<Float>, outputRows: Int, rowScales: UnsafePointer<Float>?, pool: ThreadPool) {
            precondition(inputColumns == columns && outputRows == rows)
            calls += 1
            for t in 0..<tokens {
                for r in 0..<rows {
                    var sum: Float = 0
                    for c in 0..<columns { sum += delta[r * columns + c] * input[t * columns + c] }
                    output[t * rows + r] += sum
                }
            }
        }

        /// The merged weight: `values` (row-major `[rows × columns]`) plus Δ.
        func merged(_ values: [Float]) -> [Float] { zip(values, delta).map { $0 + $1 } }
    }

    func logits(_ model: LanguageModel, _ tokens: [Int]) throws -> [[Float]] {
        let session = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 2))
        var rows: [[Float]] = []
        // A batch (prompt path, unfused gate/up), then single tokens (decode path, fused gate/up).
        try session.evaluate(Array(tokens.prefix(5))) { _, l in rows.append(Array(l)) }
        for t in tokens.dropFirst(5) { rows.append(Array(try session.evaluate([t]))) }
        return rows
    }

    func testAdaptersOnEveryProjectionMatchMergedWeights() throws {
        var base = SyntheticModel()
        base.tiedOutput = false
        let d = base.embedding, ffn = base.feedForward, hd = base.embedding / base.heads
        let vocab = base.vocabulary
        // (GGUF tensor, rows, columns, where the adapter goes)
        let q = DenseDelta(rows: base.heads * hd, columns: d, seed: 1)
        let o = DenseDelta(rows: d, columns: base.heads * hd, seed: 2)
        let gate = DenseDelta(rows: ffn, columns: d, seed: 3)
        let up = DenseDelta(rows: ffn, columns: d, seed: 4)
        let down = DenseDelta(rows: d, columns: ffn, seed: 5)
        let head = DenseDelta(rows: vocab, columns: d, seed: 6)
        var merged = base
        merged.transform = [
            "blk.0.attn_q.weight": q.merged, "blk.1.attn_output.weight": o.merged,
            "blk.1.ffn_gate.weight": gate.merged, "blk.1.ffn_up.weight": up.merged,
            "blk.0.ffn_down.weight": down.merged, "output.weight": head.merged,
        ]
        let basePath = try base.write(), mergedPath = try merged.write()
        defer { try? FileManager.default.removeItem(atPath: basePath); try? FileManager.default.removeItem(atPath: mergedPath) }
        let adapted = try LanguageModel(path: basePath)
        let plain = try LanguageModel(path: basePath)
        adapted.updateProjections { w in
            w.layers[0].query.adapters = [q]
            w.layers[1].attentionOutput.adapters = [o]
            w.layers[1].gate.adapters = [gate]
            w.layers[1].up.adapters = [up]
            w.layers[0].down.adapters = [down]
            w.output.adapters = [head]
        }
        let tokens = [72, 101, 108, 108, 111, 32, 119, 111]
        let expected = try logits(try LanguageModel(path: mergedPath), tokens)
        let actual = try logits(adapted, tokens)
        let unadapted = try logits(plain, tokens)
        var worst: Float = 0, moved: Float = 0
        for (e, (a, u)) in zip(expected, zip(actual, unadapted)) {
            for i in e.indices {
                worst = max(worst, abs(e[i] - a[i]))
                moved = max(moved, abs(e[i] - u[i]))
            }
        }
        XCTAssertLessThan(worst, 1e-4, "adapted logits differ from the merged model's")
        XCTAssertGreaterThan(moved, 1e-2, "the adapters should change the logits")
        for adapter in [q, o, gate, up, down, head] { XCTAssertEqual(adapter.calls > 0, true) }
    }
}
