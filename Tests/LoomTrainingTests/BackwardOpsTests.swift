import XCTest
import LoomKernels
@testable import LoomTraining

/// Gradient checks of every backward op in Float64 against central finite differences, at
/// small sizes. Each scalar loss is `L = Σ R ⊙ op(x)` for a fixed random `R`, so `∂L/∂y = R`.
final class BackwardOpsTests: XCTestCase {
    typealias G = GradientCheck

    func testRMSNormInputAndWeightGradients() {
        let rows = 3, dim = 8
        let x = G.values(rows * dim, seed: 1), w = G.values(dim, seed: 2).map { $0 + 1.5 }, r = G.values(rows * dim, seed: 3)
        func loss(_ x: [Double], _ w: [Double]) -> Double {
            var y = [Double](repeating: 0, count: rows * dim), rho = [Double](repeating: 0, count: rows)
            RMSNormOp.forward(x, weight: w, rows: rows, dim: dim, eps: 1e-5, into: &y, inverseRMS: &rho)
            return G.dot(y, r)
        }
        var y = [Double](repeating: 0, count: rows * dim), rho = [Double](repeating: 0, count: rows)
        RMSNormOp.forward(x, weight: w, rows: rows, dim: dim, eps: 1e-5, into: &y, inverseRMS: &rho)
        var dx = [Double](repeating: 0, count: rows * dim), dw = [Double](repeating: 0, count: dim)
        dw.withUnsafeMutableBufferPointer { dwp in
            RMSNormOp.backward(r, x: x, weight: w, inverseRMS: rho, rows: rows, dim: dim, addingInto: &dx, dWeight: dwp.baseAddress!)
        }
        G.assertClose(dx, G.numeric(x) { loss($0, w) }, "RMSNorm dx")
        G.assertClose(dw, G.numeric(w) { loss(x, $0) }, "RMSNorm dw")
    }

    func testRoPEBackwardIsTheInverseRotationInBothLayouts() {
        let rows = 4, heads = 2, headDim = 8
        for layout in [RotaryEmbedding.PairLayout.halfSplit, .adjacent] {
            // 6 of 8 dimensions rotated (partial rotary), YaRN-style magnitude 1.1.
            let rope = RotaryEmbedding(layout: layout, dimensions: 6, base: 100, magnitude: 1.1)
            let op = RoPEOp<Double>(rope, positions: [0, 3, 7, 20])
            let x = G.values(rows * heads * headDim, seed: 4), r = G.values(x.count, seed: 5)
            func loss(_ x: [Double]) -> Double {
                var y = x
                op.apply(&y, rows: rows, heads: heads, headDim: headDim)
                return G.dot(y, r)
            }
            var dx = r
            op.apply(&dx, rows: rows, heads: heads, headDim: headDim, inverse: true)
            G.assertClose(dx, G.numeric(x, loss), "RoPE \(layout) dx")
        }
    }

    func testRoPEForwardMatchesLoomsInferenceRotation() {
        let rope = RotaryEmbedding(layout: .halfSplit, dimensions: 8, base: 10_000)
        let op = RoPEOp<Float>(rope, positions: [5])
        let x: [Float] = (0..<16).map { Float($0) * 0.1 - 0.7 }
        var ours = x, theirs = x
        op.apply(&ours, rows: 1, heads: 2, headDim: 8)
        var table = [Float](repeating: 0, count: 8)
        rope.fillTable(position: 5, into: &table)
        rope.apply(&theirs, heads: 2, headDim: 8, table: table)
        for i in 0..<16 { XCTAssertEqual(ours[i], theirs[i], accuracy: 1e-6) }
    }

    func testCausalGroupedQueryAttentionGradients() {
        let n = 5, heads = 4, kvHeads = 2, headDim = 4
        for window in [nil, 3] as [Int?] {
            let op = AttentionOp(heads: heads, kvHeads: kvHeads, headDim: headDim, window: window)
            let q = G.values(n * heads * headDim, seed: 6), k = G.values(n * kvHeads * headDim, seed: 7)
            let v = G.values(n * kvHeads * headDim, seed: 8), r = G.values(q.count, seed: 9)
            func run(_ q: [Double], _ k: [Double], _ v: [Double]) -> ([Double], [Double]) {
                var out = [Double](repeating: 0, count: n * heads * headDim), lse = [Double](repeating: 0, count: n * heads)
                op.forward(q: q, k: k, v: v, n: n, out: &out, lse: &lse)
                return (out, lse)
            }
            let (out, lse) = run(q, k, v)
            var dq = q, dk = k, dv = v
            op.backward(dOut: r, q: q, k: k, v: v, out: out, lse: lse, n: n, dq: &dq, dk: &dk, dv: &dv)
            G.assertClose(dq, G.numeric(q) { G.dot(run($0, k, v).0, r) }, "attention dq window \(String(describing: window))")
            G.assertClose(dk, G.numeric(k) { G.dot(run(q, $0, v).0, r) }, "attention dk window \(String(describing: window))")
            G.assertClose(dv, G.numeric(v) { G.dot(run(q, k, $0).0, r) }, "attention dv window \(String(describing: window))")
            // Row 0 attends only to itself: its output is v_0 of its KV head.
            XCTAssertEqual(out[0], v[0], accuracy: 1e-12)
        }
    }

    func testAttentionInFloatAgreesOnAThreadPool() {
        let n = 7, heads = 4, kvHeads = 2, headDim = 4
        let op = AttentionOp(heads: heads, kvHeads: kvHeads, headDim: headDim)
        let q = G.values(n * heads * headDim, seed: 10).map(Float.init), k = G.values(n * kvHeads * headDim, seed: 11).map(Float.init)
        let v = G.values(n * kvHeads * headDim, seed: 12).map(Float.init), r = G.values(q.count, seed: 13).map(Float.init)
        var out1 = [Float](repeating: 0, count: q.count), lse1 = [Float](repeating: 0, count: n * heads)
        var out2 = out1, lse2 = lse1
        op.forward(q: q, k: k, v: v, n: n, out: &out1, lse: &lse1)
        op.forward(q: q, k: k, v: v, n: n, out: &out2, lse: &lse2, pool: ThreadPool(threadCount: 2))
        XCTAssertEqual(out1, out2)
        var dq1 = q, dk1 = k, dv1 = v, dq2 = q, dk2 = k, dv2 = v
        op.backward(dOut: r, q: q, k: k, v: v, out: out1, lse: lse1, n: n, dq: &dq1, dk: &dk1, dv: &dv1)
        op.backward(dOut: r, q: q, k: k, v: v, out: out1, lse: lse1, n: n, dq: &dq2, dk: &dk2, dv: &dv2, pool: ThreadPool(threadCount: 2))
        XCTAssertEqual(dq1, dq2)
        XCTAssertEqual(dk1, dk2)
        XCTAssertEqual(dv1, dv2)
    }

    func testSwiGLUGradients() {
        let count = 12
        let g = G.values(count, seed: 14, scale: 3), u = G.values(count, seed: 15), r = G.values(count, seed: 16)
        func loss(_ g: [Double], _ u: [Double]) -> Double {
            var out = [Double](repeating: 0, count: count)
            SwiGLUOp.forward(gate: g, up: u, count: count, into: &out)
            return G.dot(out, r)
        }
        var dg = g, du = u
        SwiGLUOp.backward(r, gate: g, up: u, count: count, dGate: &dg, dUp: &du)
        G.assertClose(dg, G.numeric(g) { loss($0, u) }, "SwiGLU dgate")
        G.assertClose(du, G.numeric(u) { loss(g, $0) }, "SwiGLU dup")
    }

    /// The vectorised `Float` SwiGLU (forward and backward, with a tail shorter than a vector)
    /// against the generic one in `Double`.
    func testFloatSwiGLUMatchesDouble() {
        let count = 16 * 5 + 7
        // Inputs representable in Float, so both see the same values.
        func input(_ seed: UInt64, scale: Double = 1) -> [Double] { G.values(count, seed: seed, scale: scale).map { Double(Float($0)) } }
        let g = input(24, scale: 6), u = input(25), r = input(26)
        var out = [Double](repeating: 0, count: count), dg = out, du = out
        SwiGLUOp.forward(gate: g, up: u, count: count, into: &out)
        SwiGLUOp.backward(r, gate: g, up: u, count: count, dGate: &dg, dUp: &du)
        let gf = g.map(Float.init), uf = u.map(Float.init), rf = r.map(Float.init)
        var outF = [Float](repeating: .nan, count: count), dgF = outF, duF = outF
        SwiGLUOp.forward(gate: gf, up: uf, count: count, into: &outF)
        SwiGLUOp.backward(rf, gate: gf, up: uf, count: count, dGate: &dgF, dUp: &duF)
        for (name, f, d) in [("forward", outF, out), ("dGate", dgF, dg), ("dUp", duF, du)] {
            for i in 0..<count {
                XCTAssertEqual(Double(f[i]), d[i], accuracy: 1e-6 * max(1, abs(d[i])), "\(name)[\(i)]")
            }
        }
    }

    /// `y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ` with W, b frozen: gradients to x, A and B.
    func testLoRALinearGradients() {
        let tokens = 3, inputs = 6, outputs = 5, rank = 2, s = 1.7
        let x = G.values(tokens * inputs, seed: 17), w = G.values(outputs * inputs, seed: 18), bias = G.values(outputs, seed: 19)
        let a0 = G.values(rank * inputs, seed: 20), b0 = G.values(outputs * rank, seed: 21), r = G.values(tokens * outputs, seed: 22)
        func loss(_ x: [Double], _ a: [Double], _ b: [Double]) -> Double {
            let f = LoRAFactors<Double>(rank: rank, inputs: inputs, outputs: outputs, scale: s, a: a, b: b)
            var y = [Double](repeating: 0, count: tokens * outputs), u = [Double](repeating: 0, count: tokens * rank)
            DenseOps.multiplyTransposed(x, w, tokens: tokens, inputs: inputs, outputs: outputs, into: &y)
            for t in 0..<tokens { for o in 0..<outputs { y[t * outputs + o] += bias[o] } }
            f.forward(x, tokens: tokens, addingInto: &y, scratch: &u)
            return G.dot(y, r)
        }
        let f = LoRAFactors<Double>(rank: rank, inputs: inputs, outputs: outputs, scale: s, a: a0, b: b0)
        var dx = [Double](repeating: 0, count: tokens * inputs)
        DenseOps.multiply(r, w, tokens: tokens, inputs: inputs, outputs: outputs, into: &dx)
        var u = [Double](repeating: 0, count: tokens * rank), du = u
        f.backward(r, x: x, tokens: tokens, addingInto: &dx, scratch: &u, &du)
        G.assertClose(dx, G.numeric(x) { loss($0, a0, b0) }, "LoRA linear dx")
        G.assertClose(f.gradA.array, G.numeric(a0) { loss(x, $0, b0) }, "LoRA dA")
        G.assertClose(f.gradB.array, G.numeric(b0) { loss(x, a0, $0) }, "LoRA dB")
    }

    /// The LM head with HF's shifted, -100-masked mean cross-entropy: loss and ∂L/∂hidden.
    func testCrossEntropyHeadGradientAndLoss() {
        let n = 5, d = 4, vocab = 7
        let h = G.values(n * d, seed: 23, scale: 2), w = G.values(vocab * d, seed: 24)
        let labels: [Int32] = [3, -100, 6, 0, 2]
        let targets = CrossEntropyOp.shiftedTargets(labels)
        XCTAssertEqual(targets, [-100, 6, 0, 2, -100])
        let count = targets.filter { $0 != -100 }.count
        func lossAndGrad(_ h: [Double]) -> (Double, [Double]) {
            var logits = [Double](repeating: 0, count: n * vocab)
            DenseOps.multiplyTransposed(h, w, tokens: n, inputs: d, outputs: vocab, into: &logits)
            let sum = CrossEntropyOp.lossAndGradient(&logits, targets: targets, rows: n, vocab: vocab, gradScale: 1 / Double(count))
            var dh = [Double](repeating: 0, count: n * d)
            DenseOps.multiply(logits, w, tokens: n, inputs: d, outputs: vocab, into: &dh)
            return (sum / Double(count), dh)
        }
        let (loss, dh) = lossAndGrad(h)
        // The loss written out: mean over rows 1, 2, 3 of −log softmax(h_t·Wᵀ)[target].
        var expected = 0.0
        for t in [1, 2, 3] {
            let logits = (0..<vocab).map { o in (0..<d).reduce(0.0) { $0 + h[t * d + $1] * w[o * d + $1] } }
            let lse = log(logits.map { exp($0) }.reduce(0, +))
            expected += lse - logits[Int(targets[t])]
        }
        XCTAssertEqual(loss, expected / 3, accuracy: 1e-12)
        G.assertClose(dh, G.numeric(h) { lossAndGrad($0).0 }, "cross-entropy dh")
        // Rows 0 and 4 predict nothing: no gradient.
        XCTAssertEqual(dh[0..<d].map(abs).max(), 0)
        XCTAssertEqual(dh[4 * d..<5 * d].map(abs).max(), 0)
    }
}
