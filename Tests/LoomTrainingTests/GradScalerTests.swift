import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomTraining

/// `--precision f16`'s dynamic loss scaling: `torch.amp.GradScaler`'s update rule, a forced
/// overflow skipping the update, the step against PyTorch's GradScaler, and exact resume.
final class GradScalerTests: XCTestCase {
    func testUpdateRuleIsGradScalers() throws {
        let s = try GradScaler()
        XCTAssertEqual(s.scale, 65536)
        XCTAssertEqual(s.growthInterval, 2000)
        for _ in 0..<1999 { s.update(foundInfinite: false) }
        XCTAssertEqual(s.scale, 65536)
        XCTAssertEqual(s.growthTracker, 1999)
        s.update(foundInfinite: false)   // the 2000th finite step in a row grows the scale
        XCTAssertEqual(s.scale, 131072)
        XCTAssertEqual(s.growthTracker, 0)
        for _ in 0..<10 { s.update(foundInfinite: false) }
        s.update(foundInfinite: true)    // an overflow backs off and restarts the count
        XCTAssertEqual(s.scale, 65536)
        XCTAssertEqual(s.growthTracker, 0)
        XCTAssertEqual(s.skippedSteps, 1)
        let small = try GradScaler(initialScale: 8, growthInterval: 2)
        small.update(foundInfinite: false)
        small.update(foundInfinite: false)
        XCTAssertEqual(small.scale, 16)
        // Unscaling multiplies by the reciprocal and reports non-finite values.
        let g = TrainingBuffer<Float>([16, -32, 8])
        XCTAssertTrue(small.unscale([g]))
        XCTAssertEqual(g.array, [1, -2, 0.5])
        XCTAssertFalse(small.unscale([TrainingBuffer<Float>([1, .infinity])]))
        XCTAssertFalse(small.unscale([TrainingBuffer<Float>([.nan])]))
        for bad in [{ try GradScaler(initialScale: 0) }, { try GradScaler(growthFactor: 1) }, { try GradScaler(backoffFactor: 1) },
                    { try GradScaler(growthInterval: 0) }] {
            XCTAssertThrowsError(try bad())
        }
    }

    /// A loss scale far beyond f16's range makes the gradients overflow: the step is reported
    /// skipped, nothing is updated (factors, AdamW moments and step), and the scale halves;
    /// the next step at a sane scale updates.
    func testForcedOverflowSkipsTheUpdateAndBacksOff() throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama3_autocast_f16"])
        let (_, trainer) = try LoRATrainerParityTests.makeTrainer(c)
        let scaler = try XCTUnwrap(trainer.gradScaler)
        scaler.scale = 0x1p100
        let before = MixedPrecisionTests.snapshot(trainer, gradients: false)
        var seen: [TrainingStepResult] = []
        trainer.onStep = { seen.append($0) }
        let skipped = try trainer.step(tokens: c.tokens, labels: c.labels)
        XCTAssertTrue(skipped.skipped)
        XCTAssertEqual(skipped.lossScale, 0x1p100)
        XCTAssertEqual(skipped.step, 1)
        XCTAssertTrue(skipped.loss.isFinite)
        XCTAssertEqual(scaler.scale, 0x1p99)
        XCTAssertEqual(scaler.skippedSteps, 1)
        XCTAssertEqual(trainer.optimizer.step, 0)
        XCTAssertTrue(trainer.optimizer.moments.isEmpty)
        XCTAssertEqual(MixedPrecisionTests.worst(MixedPrecisionTests.snapshot(trainer, gradients: false), before, relative: false), 0)
        scaler.scale = 65536
        let applied = try trainer.step(tokens: c.tokens, labels: c.labels)
        XCTAssertFalse(applied.skipped)
        XCTAssertEqual(applied.step, 2)
        XCTAssertEqual(applied.lossScale, 65536)
        XCTAssertEqual(trainer.optimizer.step, 1)
        XCTAssertEqual(scaler.growthTracker, 1)
        XCTAssertGreaterThan(MixedPrecisionTests.worst(MixedPrecisionTests.snapshot(trainer, gradients: false), before, relative: false), 0)
        XCTAssertEqual(seen.map(\.skipped), [true, false])
        // The log line carries the scale and the skip.
        let entry = FineTuneProgress(step: 1, totalSteps: 2, epoch: 0.5, loss: skipped.loss, learningRate: 0, gradientNorm: .infinity,
                                     tokens: 1, tokensPerSecond: 1, elapsed: 1, evalLoss: nil, lossScale: 0x1p100, skipped: true).logEntry
        XCTAssertTrue(entry.jsonLine.contains("\"skipped\":true"), entry.jsonLine)
        let parsed = try TrainingLogEntry(jsonLine: Array(entry.jsonLine.utf8), path: "log", line: 1)
        XCTAssertEqual(parsed.lossScale, 0x1p100)
        XCTAssertTrue(parsed.skipped)
    }

    /// Two f16 steps with the loss scaler against PyTorch's autocast(float16) +
    /// GradScaler("cpu") (tolerances: MixedPrecisionTests.checkAutocastCase).
    func testF16StepsMatchPyTorchGradScaler() throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama3_autocast_f16"])
        XCTAssertEqual(c.steps.map(\.loss_scale), [65536, 65536])
        try MixedPrecisionTests.checkAutocastCase("llama3_autocast_f16", u: 0x1p-11)
    }
}
