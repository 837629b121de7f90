import XCTest
import LoomKernels
@testable import LoomTraining

/// The `Float` fast paths the trainer runs — ``TiledAttention``, the pooled LoRA products and
/// ``ChunkedCrossEntropy`` — against the generic reference ops (themselves checked against
/// float64 finite differences in BackwardOpsTests), on sizes that leave partial tiles,
/// partial vectors and partial chunks.
final class FastTrainingOpsTests: XCTestCase {
    typealias G = GradientCheck

    func assertNear(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(1, b.map(abs).max() ?? 1)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance * scale, "\(what): largest difference \(worst)", file: file, line: line)
    }

    func testTiledAttentionMatchesTheReference() {
        // 77 rows: two full 32-row tiles and a partial one, keys padded to 80 (a row stride of
        // 80, five lines); the windows cut through vectors and tiles.
        XCTAssertEqual(TiledAttention.rowTile, 32)
        let n = 77, heads = 6, kvHeads = 2
        for (headDim, window) in [(32, nil), (64, nil), (16, 5), (80, 20)] as [(Int, Int?)] {
            let op = AttentionOp(heads: heads, kvHeads: kvHeads, headDim: headDim, window: window)
            XCTAssertTrue(TiledAttention.supports(op))
            let tiled = TiledAttention(op)
            let q = G.values(n * heads * headDim, seed: 40, scale: 2).map(Float.init)
            let k = G.values(n * kvHeads * headDim, seed: 41, scale: 2).map(Float.init)
            let v = G.values(n * kvHeads * headDim, seed: 42).map(Float.init), r = G.values(q.count, seed: 43).map(Float.init)
            for threads in [1, 2] {
                let pool = ThreadPool(threadCount: threads)
                var out1 = [Float](repeating: 0, count: q.count), lse1 = [Float](repeating: 0, count: n * heads)
                var out2 = out1, lse2 = lse1
                op.forward(q: q, k: k, v: v, n: n, out: &out1, lse: &lse1)
                tiled.forward(q: q, k: k, v: v, n: n, out: &out2, lse: &lse2, pool: pool)
                let what = "headDim \(headDim) window \(String(describing: window)) threads \(threads)"
                assertNear(out2, out1, 1e-5, "out " + what)
                assertNear(lse2, lse1, 1e-5, "lse " + what)
                var dq1 = q, dk1 = k, dv1 = v, dq2 = q, dk2 = k, dv2 = v
                op.backward(dOut: r, q: q, k: k, v: v, out: out1, lse: lse1, n: n, dq: &dq1, dk: &dk1, dv: &dv1)
                tiled.backward(dOut: r, q: q, k: k, v: v, out: out1, lse: lse1, n: n, dq: &dq2, dk: &dk2, dv: &dv2, pool: pool)
                assertNear(dq2, dq1, 1e-5, "dq " + what)
                assertNear(dk2, dk1, 1e-5, "dk " + what)
                assertNear(dv2, dv1, 1e-5, "dv " + what)
            }
        }
        XCTAssertFalse(TiledAttention.supports(AttentionOp(heads: 2, kvHeads: 1, headDim: 4)))
    }

    /// The backward pass's fixed tile lists cover every tile once, and split the causal work
    /// (tile t costs t + 1) between the slots to within one pair of tiles.
    func testAttentionBackwardSlotsCoverEveryTileAndBalanceTheWork() {
        for (tiles, heads, workers) in [(16, 9, 2), (7, 3, 2), (1, 1, 2), (5, 4, 3), (16, 9, 1)] {
            let lists = (0..<workers).map { TiledAttention.slotTiles(slot: $0, workers: workers, tiles: tiles, heads: heads) }
            XCTAssertEqual(lists.flatMap { $0 }.sorted(), Array(0..<tiles * heads), "\(tiles) tiles × \(heads) heads")
            let work = lists.map { $0.reduce(0) { $0 + $1 % tiles + 1 } }
            XCTAssertLessThanOrEqual(work.max()! - work.min()!, tiles + 1, "\(tiles) tiles × \(heads) heads: \(work)")
        }
        XCTAssertEqual(TiledAttention.rowStride(512), 528)   // 33 lines, not 32
        XCTAssertEqual(TiledAttention.rowStride(37), 48)     // 3 lines already odd
    }

    func testPooledLoRAProductsMatchTheReference() {
        // 72 inputs and 40 outputs: a 64-column register block plus 16-lane and scalar tails.
        for (tokens, inputs, outputs, rank) in [(19, 72, 40, 3), (33, 576, 192, 8), (1, 24, 130, 2)] {
            let a = G.values(rank * inputs, seed: 44).map(Float.init), b = G.values(outputs * rank, seed: 45).map(Float.init)
            let x = G.values(tokens * inputs, seed: 46).map(Float.init), dy = G.values(tokens * outputs, seed: 47).map(Float.init)
            let reference = LoRAFactors<Float>(rank: rank, inputs: inputs, outputs: outputs, scale: 1.7, a: a, b: b)
            let pooled = LoRAFactors<Float>(rank: rank, inputs: inputs, outputs: outputs, scale: 1.7, a: a, b: b)
            let pool = ThreadPool(threadCount: 2)
            let what = "\(tokens)×\(inputs)→\(outputs) r\(rank)"
            var y1 = G.values(tokens * outputs, seed: 48).map(Float.init), y2 = y1
            var u1 = [Float](repeating: 0, count: tokens * rank), u2 = u1, du1 = u1, du2 = u1
            reference.forward(x, tokens: tokens, addingInto: &y1, scratch: &u1)
            pooled.forward(x, tokens: tokens, addingInto: &y2, scratch: &u2, pool: pool)
            assertNear(y2, y1, 1e-5, "y " + what)
            assertNear(u2, u1, 1e-5, "u " + what)
            var dx1 = G.values(tokens * inputs, seed: 49).map(Float.init), dx2 = dx1
            for _ in 0..<2 {  // twice: the factor gradients accumulate
                reference.backward(dy, x: x, tokens: tokens, addingInto: &dx1, scratch: &u1, &du1)
                pooled.backward(dy, x: x, tokens: tokens, addingInto: &dx2, scratch: &u2, &du2, pool: pool)
            }
            assertNear(dx2, dx1, 1e-5, "dx " + what)
            assertNear(pooled.gradA.array, reference.gradA.array, 1e-5, "dA " + what)
            assertNear(pooled.gradB.array, reference.gradB.array, 1e-5, "dB " + what)
        }
    }

    func testChunkedCrossEntropyMatchesFullLogits() {
        let rows = 6, d = 48, vocab = 100
        let w = G.values(vocab * d, seed: 50).map(Float.init), h = G.values(rows * d, seed: 51, scale: 2).map(Float.init)
        let targets: [Int32] = [3, -100, 99, 0, 64, 17]
        let scale: Float = 1 / 5
        var logits = [Float](repeating: 0, count: rows * vocab)
        DenseOps.multiplyTransposed(h, w, tokens: rows, inputs: d, outputs: vocab, into: &logits)
        let expected = CrossEntropyOp.lossAndGradient(&logits, targets: targets, rows: rows, vocab: vocab, gradScale: scale)
        var dh1 = G.values(rows * d, seed: 52).map(Float.init), dh2 = dh1
        DenseOps.multiply(logits, w, tokens: rows, inputs: d, outputs: vocab, into: &dh1, accumulate: true)
        w.withUnsafeBytes { raw in
            let head = FrozenProjection(weight: WeightMatrix(type: .f32, rows: vocab, columns: d, base: raw.baseAddress!))
            // 16-entry chunks (six and a partial one), and one chunk of the whole vocabulary;
            // the logits recomputed in the second pass, and kept from the first.
            for chunk in [16, 4096] {
                for kept in [0, rows * vocab] {
                    var dh = dh2
                    let loss = ChunkedCrossEntropy(head: head, vocabChunk: chunk, keptLogits: kept)
                        .lossAndInputGradient(h, targets: targets, rows: rows, addingInto: &dh, gradScale: scale, pool: ThreadPool(threadCount: 2))
                    XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected), "loss, chunk \(chunk) kept \(kept)")
                    assertNear(dh, dh1, 1e-5, "dh, chunk \(chunk) kept \(kept)")
                }
            }
        }
    }
}
