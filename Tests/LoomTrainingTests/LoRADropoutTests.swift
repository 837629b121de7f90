import XCTest
import LoomKernels
import LoomModels
@testable import LoomTraining

/// LoRA dropout: the gradients of the dropped-out LoRA linear against finite differences (with
/// a fixed mask), and the seeded masks' determinism and keep rate.
final class LoRADropoutTests: XCTestCase {
    typealias G = GradientCheck

    /// `y = x·Wᵀ + s·B·A·(noise ⊙ x)` with W frozen and a fixed noise (0 or 1/(1−p)):
    /// gradients to x (through both paths), A and B.
    func testDroppedOutLoRALinearGradients() {
        let tokens = 3, inputs = 6, outputs = 5, rank = 2, s = 1.3, p = 0.4
        let x = G.values(tokens * inputs, seed: 31), w = G.values(outputs * inputs, seed: 32)
        let a0 = G.values(rank * inputs, seed: 33), b0 = G.values(outputs * rank, seed: 34), r = G.values(tokens * outputs, seed: 35)
        let noise = G.values(tokens * inputs, seed: 36).map { $0 < 0.2 ? 0 : 1 / (1 - p) }
        XCTAssertTrue(noise.contains(0) && noise.contains(1 / (1 - p)))
        var dropped = [Double](repeating: 0, count: tokens * inputs), dxLoRA = dropped
        var u = [Double](repeating: 0, count: tokens * rank), du = u
        func loss(_ x: [Double], _ a: [Double], _ b: [Double]) -> Double {
            let f = LoRAFactors<Double>(rank: rank, inputs: inputs, outputs: outputs, scale: s, a: a, b: b)
            var y = [Double](repeating: 0, count: tokens * outputs)
            DenseOps.multiplyTransposed(x, w, tokens: tokens, inputs: inputs, outputs: outputs, into: &y)
            LoRADropout.forward(f, x, noise: noise, tokens: tokens, addingInto: &y, dropped: &dropped, scratch: &u)
            return G.dot(y, r)
        }
        let f = LoRAFactors<Double>(rank: rank, inputs: inputs, outputs: outputs, scale: s, a: a0, b: b0)
        var dx = [Double](repeating: 0, count: tokens * inputs)
        DenseOps.multiply(r, w, tokens: tokens, inputs: inputs, outputs: outputs, into: &dx)
        LoRADropout.backward(f, r, x: x, noise: noise, tokens: tokens, addingInto: &dx, dropped: &dropped, dxLoRA: &dxLoRA,
                             scratch: &u, &du)
        G.assertClose(dx, G.numeric(x) { loss($0, a0, b0) }, "dropout LoRA dx")
        G.assertClose(f.gradA.array, G.numeric(a0) { loss(x, $0, b0) }, "dropout LoRA dA")
        G.assertClose(f.gradB.array, G.numeric(b0) { loss(x, a0, $0) }, "dropout LoRA dB")
        // The dropped elements get no gradient through A: a column of dA over a token whose
        // input is dropped sees nothing of it (checked via a noise of all zeros).
        let zero = [Double](repeating: 0, count: tokens * inputs)
        let g = LoRAFactors<Double>(rank: rank, inputs: inputs, outputs: outputs, scale: s, a: a0, b: b0)
        var dx0 = [Double](repeating: 0, count: tokens * inputs)
        LoRADropout.backward(g, r, x: x, noise: zero, tokens: tokens, addingInto: &dx0, dropped: &dropped, dxLoRA: &dxLoRA,
                             scratch: &u, &du)
        XCTAssertEqual(g.gradA.array, [Double](repeating: 0, count: rank * inputs))
        XCTAssertEqual(g.gradB.array, [Double](repeating: 0, count: outputs * rank))
        XCTAssertEqual(dx0, zero)
    }

    func testSeededMasksAreDeterministicPerSiteWithTheKeepRate() throws {
        let d = try LoRADropout(probability: 0.25, seed: 42)
        let site = LoRADropout.Site(step: 3, sequence: 1, layer: 0, module: .v)
        let n = 200_000
        let noise = d.noise(at: site, count: n)
        XCTAssertEqual(noise, d.noise(at: site, count: n))
        XCTAssertEqual(noise, try LoRADropout(probability: 0.25, seed: 42).noise(at: site, count: n))
        XCTAssertTrue(noise.allSatisfy { $0 == 0 || $0 == Float(1 / 0.75) })
        let kept = Double(noise.filter { $0 != 0 }.count) / Double(n)
        XCTAssertEqual(kept, 0.75, accuracy: 0.005)   // ~5σ of a binomial over 200k draws
        // Every coordinate of the site, and the seed, changes the mask.
        var others = [LoRADropout.Site]()
        for change in 0..<4 {
            var s = site
            switch change {
            case 0: s.step += 1
            case 1: s.sequence += 1
            case 2: s.layer += 1
            default: s.module = .q
            }
            others.append(s)
        }
        for other in others {
            XCTAssertNotEqual(d.noise(at: other, count: 256), d.noise(at: site, count: 256), "\(other)")
        }
        XCTAssertNotEqual(try LoRADropout(probability: 0.25, seed: 43).noise(at: site, count: 256), d.noise(at: site, count: 256))
        // p = 0 keeps everything with factor 1.
        XCTAssertEqual(try LoRADropout(probability: 0, seed: 1).noise(at: site, count: 64), [Float](repeating: 1, count: 64))
    }

    func testBadProbabilitiesAreRefused() {
        for p in [-0.1, 1, 1.5, .nan, .infinity] {
            XCTAssertThrowsError(try LoRADropout(probability: p, seed: 0), "\(p)")
        }
    }
}
