import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomTraining

/// `--precision bf16|f16` against PyTorch's `torch.autocast(device_type="cpu")` + PEFT
/// (scripts/gen_finetune_fixtures.py, the `llama3_autocast_*` cases), the f16 loss scaler
/// against `torch.amp.GradScaler`'s rules, and the 16-bit activation store.
final class MixedPrecisionTests: XCTestCase {
    typealias Parity = LoRATrainerParityTests
    typealias Factors = FinetuneStepFixture.Factors

    /// The trainer's gradients (or factors) keyed like the fixture.
    static func snapshot(_ trainer: LoRATrainer, gradients: Bool) -> [String: Factors] {
        var out: [String: Factors] = [:]
        for (layer, modules) in trainer.factors.enumerated() {
            for (m, f) in modules {
                out["\(layer).\(m.rawValue)"] = gradients ? Factors(a: f.gradA.array, b: f.gradB.array) : Factors(a: f.a.array, b: f.b.array)
            }
        }
        return out
    }

    /// The largest difference over all tensors, relative to each tensor's largest entry of `b`
    /// (`relative`) or absolute.
    static func worst(_ a: [String: Factors], _ b: [String: Factors], relative: Bool) -> Float {
        var worst: Float = 0
        for (key, y) in b {
            guard let x = a[key] else { return .infinity }
            for (u, v) in [(x.a, y.a), (x.b, y.b)] {
                let scale = relative ? max(v.map(abs).max() ?? 0, 1e-12) : 1
                for i in 0..<min(u.count, v.count) { worst = max(worst, abs(u[i] - v[i]) / scale) }
                if u.count != v.count { return .infinity }
            }
        }
        return worst
    }

    /// ‖a − b‖ / ‖b‖ over all the tensors together.
    static func relativeError(_ a: [String: Factors], _ b: [String: Factors]) -> Double {
        var num = 0.0, den = 0.0
        for (key, y) in b {
            guard let x = a[key], x.a.count == y.a.count, x.b.count == y.b.count else { return .infinity }
            for (u, v) in [(x.a, y.a), (x.b, y.b)] {
                for i in 0..<v.count {
                    num += Double(u[i] - v[i]) * Double(u[i] - v[i])
                    den += Double(v[i]) * Double(v[i])
                }
            }
        }
        return (num / max(den, 1e-30)).squareRoot()
    }

    /// One autocast case, step 1 and two updates, against PyTorch. Tolerances:
    ///
    /// - Loom in f32 from the same init matches PyTorch without autocast to the f32 parity
    ///   tolerances (the fixture's own consistency).
    /// - Two implementations of the same 16-bit computation do not round identically (matmul
    ///   summation order, batched vs per-sequence products, fused ops), and every rounding
    ///   differs by up to u = 2⁻⁸ (bf16) or 2⁻¹¹ (f16) relative; the differences then behave
    ///   like noise. So the gradients are checked in units of autocast's own deviation from
    ///   f32 (δ = ‖g_torch16 − g_f32‖/‖g_f32‖ over all LoRA gradients): Loom's bf16 gradients
    ///   must be within 1.5 δ of PyTorch's, and Loom's own deviation from f32 within [0.5 δ,
    ///   2 δ] — so Loom rounds as much as autocast does, neither skipping roundings (which
    ///   would bring it near f32) nor adding any (which would double the deviation).
    /// - The loss is an f32 mean of terms computed from 16-bit logits, each off by at most
    ///   u relative: within 2u of PyTorch's, relative.
    /// - AdamW's first update moves every element by ±lr whatever the gradient's size
    ///   (m̂/√v̂ = sign g at t = 1), so only a gradient sign that the noise flips moves an
    ///   element differently, by 2·lr: at most 10% of the elements may differ by more than
    ///   1e-5, and none by more than 2·lr. At t = 2 the update depends on the gradients'
    ///   ratio, so a relative gradient difference e moves it by about e·lr (≈ 3e-5 in bf16):
    ///   at most 10% may differ by more than 0.1·lr, none by more than 4·lr.
    static func checkAutocastCase(_ name: String, u: Double) throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases[name])
        let reference = try XCTUnwrap(c.f32_reference)
        let (_, low) = try Parity.makeTrainer(c)
        let (_, f32) = try Parity.makeTrainer(c, precision: .f32)
        XCTAssertEqual(low.lora.precision.rawValue, c.precision)

        let lossF32 = try f32.lossAndGradients(tokens: c.tokens, labels: c.labels).loss
        XCTAssertEqual(lossF32, reference.loss, accuracy: 1e-5)
        XCTAssertLessThan(Self.worst(Self.snapshot(f32, gradients: true), reference.grads, relative: true), 1e-4)

        let scale = low.gradScaler?.scale ?? 1
        let loss = try low.lossAndGradients(tokens: c.tokens, labels: c.labels, training: true, lossScale: scale).loss
        if let scaler = low.gradScaler {
            XCTAssertTrue(scaler.unscale(low.factors.flatMap { $0.values.flatMap { [$0.gradA, $0.gradB] } }))
        }
        let grads = Self.snapshot(low, gradients: true)
        let expected = try XCTUnwrap(c.steps[0].grads)
        let delta = Self.relativeError(expected, reference.grads)
        let error = Self.relativeError(grads, expected), own = Self.relativeError(grads, reference.grads)
        print("\(name): loss \(loss) vs PyTorch \(c.steps[0].loss) (f32 \(reference.loss)); gradients: Loom–PyTorch \(error), "
              + "PyTorch–f32 δ \(delta), Loom–f32 \(own)")
        XCTAssertNotEqual(loss, lossF32, "\(name): 16-bit rounding changed nothing")
        XCTAssertEqual(loss, c.steps[0].loss, accuracy: 2 * u * c.steps[0].loss, "\(name) loss")
        XCTAssertLessThan(error, 1.5 * delta, "\(name): Loom–PyTorch gradients")
        XCTAssertGreaterThan(own, 0.5 * delta, "\(name): Loom rounds less than autocast")
        XCTAssertLessThan(own, 2 * delta, "\(name): Loom rounds more than autocast")

        let (_, stepping) = try Parity.makeTrainer(c)
        for (i, step) in c.steps.enumerated() {
            let result = try stepping.step(tokens: c.tokens, labels: c.labels)
            XCTAssertFalse(result.skipped)
            XCTAssertEqual(result.lossScale, step.loss_scale)
            XCTAssertEqual(result.loss, step.loss, accuracy: 2 * u * step.loss, "\(name) step \(i + 1) loss")
            let after = Self.snapshot(stepping, gradients: false)
            var differing = 0, total = 0
            var largest: Float = 0
            for (key, theirs) in step.after {
                let mine = try XCTUnwrap(after[key])
                for (x, y) in zip(mine.a + mine.b, theirs.a + theirs.b) {
                    total += 1
                    if Double(abs(x - y)) > (i == 0 ? 1e-5 : 0.1 * c.lr) { differing += 1 }
                    largest = max(largest, abs(x - y))
                }
            }
            XCTAssertLessThanOrEqual(Double(differing), 0.1 * Double(total), "\(name) step \(i + 1): \(differing) of \(total) parameters differ")
            XCTAssertLessThanOrEqual(Double(largest), Double(i + 1) * 2 * c.lr + 1e-6, "\(name) step \(i + 1) parameters")
        }
    }

    func testBF16AutocastStepsMatchPyTorch() throws {
        try Self.checkAutocastCase("llama3_autocast_bf16", u: 0x1p-8)
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama3_autocast_bf16"])
        XCTAssertNil(try Parity.makeTrainer(c).1.gradScaler)   // bf16 needs no loss scaling
    }

    /// In bf16 a kept layer stores its 16-bit tensors in 2 bytes and only the residual stream
    /// and the norm/softmax statistics in 4 (plus one f32 working layer for the backward
    /// pass); gradient checkpointing recomputes the same values.
    func testBF16KeepsSixteenBitActivationsAndCheckpointsTheSame() throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama3_autocast_bf16"])
        let (model, bf16) = try Parity.makeTrainer(c)
        let (_, f32) = try Parity.makeTrainer(c, precision: .f32)
        let (_, checkpointed) = try Parity.makeTrainer(c, checkpointing: true)
        let loss = try bf16.lossAndGradients(tokens: c.tokens, labels: c.labels).loss
        _ = try f32.lossAndGradients(tokens: c.tokens, labels: c.labels)
        XCTAssertEqual(try checkpointed.lossAndGradients(tokens: c.tokens, labels: c.labels).loss, loss, accuracy: 1e-9)
        XCTAssertEqual(Self.worst(Self.snapshot(checkpointed, gradients: true), Self.snapshot(bf16, gradients: true), relative: true), 0,
                       accuracy: 1e-6)
        let m = model.config, n = c.tokens.last!.count
        let d = m.embeddingSize, q = m.headCount * m.headDim, kv = m.kvHeadCount * m.headDim, f = m.feedForwardSize
        let f32Layer = n * (4 * d + 2 * q + 2 * kv + 3 * f + 2 + m.headCount) * 4
        let packedLayer = n * (2 * d + 2 * q + 2 * kv + 3 * f) * 2 + n * (2 * d + 2 + m.headCount) * 4
        XCTAssertEqual(f32.lastActivationBytes, m.layerCount * f32Layer)
        XCTAssertEqual(bf16.lastActivationBytes, m.layerCount * packedLayer + f32Layer)
        print("activation bytes per layer: f32 \(f32Layer), bf16 \(packedLayer)")
        XCTAssertLessThan(Double(packedLayer), 0.62 * Double(f32Layer))
    }
}
