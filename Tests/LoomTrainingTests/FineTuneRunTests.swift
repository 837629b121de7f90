import Foundation
import XCTest
import LoomGeneration
import LoomKernels
import LoomModels
@testable import LoomTraining

/// The training loop on the tiny random llama of LoomModelsTests' fixtures (2 layers, vocab
/// 300): loss falls on a repeated batch, resume is bit-exact, the adapter loads back, and bad
/// runs fail with named errors.
final class FineTuneRunTests: XCTestCase {
    static let base = FinetuneStepFixture.baseDirectory("llama_f32_untied")

    /// `count` sequences of 12–19 seeded tokens; the first three positions untrained.
    static func sequences(_ count: Int, seed: UInt64 = 7) -> [TrainingSequence] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let ids = (0..<(12 + i % 8)).map { _ in Int(random.next() % 300) }
            let labels = ids.enumerated().map { $0.offset < 3 ? TrainingSequence.ignoreIndex : $0.element }
            return TrainingSequence(inputIDs: ids, labels: labels, sources: ["synthetic: line \(i + 1)"])
        }
    }

    static func config(maxSteps: Int = 4, lr: Double = 5e-3) -> FineTuneConfig {
        var c = FineTuneConfig()
        c.loraRank = 4
        c.loraAlpha = 8
        c.targets = .modules(["q_proj", "v_proj", "down_proj"])
        c.learningRate = lr
        c.warmup = .steps(1)
        c.maxSteps = maxSteps
        c.batchSize = 1
        c.gradientAccumulation = 2
        c.seed = 3
        return c
    }

    func testLossFallsOnARepeatedBatch() throws {
        var c = Self.config(maxSteps: 12, lr: 2e-2)
        c.batchSize = 2
        c.gradientAccumulation = 1
        c.schedule = .constant
        let run = try makeRun(c, Self.sequences(2))
        XCTAssertEqual(run.stepsPerEpoch, 1)
        var seen: [FineTuneProgress] = []
        run.onStep = { seen.append($0) }
        let steps = try run.run()
        XCTAssertEqual(steps, seen)
        XCTAssertEqual(steps.map(\.step), Array(1...12))
        XCTAssertEqual(steps[0].learningRate, 0)   // the one warm-up step
        XCTAssertTrue(steps.allSatisfy { $0.tokens > 0 && $0.tokensPerSecond > 0 && $0.gradientNorm.isFinite })
        XCTAssertLessThan(steps.last!.loss, steps[0].loss - 0.2, "losses \(steps.map(\.loss))")
    }

    func testEveryStepTakesBatchTimesAccumulationSequencesInASeededOrder() throws {
        let run = try makeRun(Self.config(), Self.sequences(5))
        XCTAssertEqual(run.stepsPerEpoch, 3)   // ⌈5 / (1 × 2)⌉, the last step of an epoch takes 1
        XCTAssertEqual((0..<3).map { run.batch(step: $0).count }, [2, 2, 1])
        XCTAssertEqual(Set((0..<3).flatMap { run.batch(step: $0) }), Set(0..<5))
        XCTAssertNotEqual(run.order(epoch: 0), run.order(epoch: 1))
        let again = try makeRun(Self.config(), Self.sequences(5))
        XCTAssertEqual(again.order(epoch: 1), run.order(epoch: 1))
    }

    func testResumeContinuesWithBitIdenticalLosses() throws {
        let sequences = Self.sequences(5)
        let straight = try makeRun(Self.config(), sequences).run()
        XCTAssertEqual(straight.count, 4)

        let directory = try temporaryDirectory()
        let first = try makeRun(Self.config(), sequences, options: .init(saveSteps: 2, checkpointDirectory: directory))
        let firstSteps = try first.run(untilStep: 2)
        XCTAssertEqual(firstSteps.map(\.loss), straight.prefix(2).map(\.loss))
        let checkpoint = try FineTuneRun.checkpointDirectory(resuming: directory)
        XCTAssertEqual(checkpoint, directory + "/checkpoint-2")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.contains(".tmp-") })

        let resumed = try makeRun(Self.config(), sequences)
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.step, 2)
        let rest = try resumed.run()
        XCTAssertEqual(rest.map(\.step), [3, 4])
        // Bit-equal, not approximately: the same batches, factors, moments and rates.
        XCTAssertEqual(rest.map(\.loss.bitPattern), straight.suffix(2).map(\.loss.bitPattern))
        XCTAssertEqual(rest.map(\.gradientNorm.bitPattern), straight.suffix(2).map(\.gradientNorm.bitPattern))
        XCTAssertEqual(rest.map(\.learningRate), straight.suffix(2).map(\.learningRate))
    }

    /// With `--lora-dropout`, the masks are a function of the seed, step and sequence: two
    /// runs agree bit for bit, a resumed run continues bit-identically, the dropout changes
    /// the gradients, and checkpointing recomputes each layer with the masks its forward pass
    /// used. (Eval mode without dropout is checked against PEFT in LoRATrainerParityTests.)
    func testDropoutRunsAreDeterministicAndResumeExactly() throws {
        var c = Self.config()
        c.loraDropout = 0.3
        let sequences = Self.sequences(5)
        let straight = try makeRun(c, sequences).run()
        XCTAssertEqual(straight.count, 4)
        XCTAssertEqual(try makeRun(c, sequences).run().map(\.loss.bitPattern), straight.map(\.loss.bitPattern))
        let checkpointed = try makeRun(c, sequences, options: .init(gradientCheckpointing: true)).run()
        for (a, b) in zip(checkpointed, straight) {
            XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6)
            XCTAssertEqual(a.gradientNorm, b.gradientNorm, accuracy: 1e-5 * b.gradientNorm)
        }
        let undropped = try makeRun(Self.config(), sequences)
        let noDropout = try undropped.run(untilStep: 1)
        // Step 1 starts from the same factors (B = 0): with B = 0 the LoRA path adds nothing, so
        // the loss is the same; the gradients of B are taken at the dropped input and differ.
        XCTAssertEqual(noDropout[0].loss, straight[0].loss, accuracy: 1e-9)
        XCTAssertNotEqual(noDropout[0].gradientNorm, straight[0].gradientNorm)

        let directory = try temporaryDirectory()
        let first = try makeRun(c, sequences, options: .init(saveSteps: 2, checkpointDirectory: directory))
        XCTAssertEqual(try first.run(untilStep: 2).map(\.loss.bitPattern), straight.prefix(2).map(\.loss.bitPattern))
        let resumed = try makeRun(c, sequences)
        try resumed.resume(from: FineTuneRun.checkpointDirectory(resuming: directory))
        let rest = try resumed.run()
        XCTAssertEqual(rest.map(\.step), [3, 4])
        XCTAssertEqual(rest.map(\.loss.bitPattern), straight.suffix(2).map(\.loss.bitPattern))
        XCTAssertEqual(rest.map(\.gradientNorm.bitPattern), straight.suffix(2).map(\.gradientNorm.bitPattern))
        // A checkpoint of a run without dropout is not resumed with it.
        var plainConfig = c
        plainConfig.loraDropout = 0
        XCTAssertThrowsError(try makeRun(plainConfig, sequences).resume(from: FineTuneRun.checkpointDirectory(resuming: directory))) {
            XCTAssertTrue("\($0)".contains("--lora-dropout"), "\($0)")
        }
    }

    /// f16: a forced high loss scale makes the first steps overflow (skipped, the scale backs
    /// off) until the gradients fit; a run resumed from a checkpoint restores the scale and
    /// continues bit-identically, skips included.
    func testF16RunSkipsOverflowsAndResumesWithTheLossScale() throws {
        var c = Self.config(maxSteps: 6)
        c.precision = .f16
        let sequences = Self.sequences(5)
        func forced(_ run: FineTuneRun) throws -> FineTuneRun {
            try XCTUnwrap(run.trainer.gradScaler).scale = 0x1p22
            return run
        }
        let straight = try forced(makeRun(c, sequences)).run()
        XCTAssertEqual(straight.count, 6)
        XCTAssertTrue(straight.first!.skipped)
        XCTAssertTrue(straight.contains { !$0.skipped }, "\(straight.map(\.lossScale))")
        for (a, b) in zip(straight, straight.dropFirst()) {
            XCTAssertEqual(b.lossScale, a.skipped ? a.lossScale! / 2 : a.lossScale)
        }
        let directory = try temporaryDirectory()
        let first = try forced(makeRun(c, sequences, options: .init(saveSteps: 3, checkpointDirectory: directory)))
        XCTAssertEqual(try first.run(untilStep: 3).map(\.loss.bitPattern), straight.prefix(3).map(\.loss.bitPattern))
        let resumed = try makeRun(c, sequences)
        try resumed.resume(from: FineTuneRun.checkpointDirectory(resuming: directory))
        XCTAssertEqual(resumed.trainer.gradScaler?.scale, first.trainer.gradScaler?.scale)
        XCTAssertEqual(resumed.trainer.gradScaler?.skippedSteps, first.trainer.gradScaler?.skippedSteps)
        XCTAssertEqual(resumed.trainer.optimizer.step, first.trainer.optimizer.step)
        let rest = try resumed.run()
        XCTAssertEqual(rest.map(\.step), [4, 5, 6])
        XCTAssertEqual(rest.map(\.loss.bitPattern), straight.suffix(3).map(\.loss.bitPattern))
        XCTAssertEqual(rest.map(\.lossScale), straight.suffix(3).map(\.lossScale))
        XCTAssertEqual(rest.map(\.skipped), straight.suffix(3).map(\.skipped))
        XCTAssertEqual(rest.map(\.learningRate), straight.suffix(3).map(\.learningRate))
    }

    func testResumeFromAnotherConfigOrDataIsANamedError() throws {
        let directory = try temporaryDirectory()
        let sequences = Self.sequences(5)
        let first = try makeRun(Self.config(), sequences)
        try first.run(untilStep: 1)
        try first.saveCheckpoint(to: directory + "/checkpoint-1")

        let otherRate = try makeRun(Self.config(lr: 1e-3), sequences)
        XCTAssertThrowsError(try otherRate.resume(from: directory + "/checkpoint-1")) { error in
            guard case FineTuneRunError.checkpointMismatch(_, let differences)? = error as? FineTuneRunError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(differences, ["--lr: 0.005 ≠ 0.001"])
        }
        let otherData = try makeRun(Self.config(), Self.sequences(5, seed: 8))
        XCTAssertThrowsError(try otherData.resume(from: directory + "/checkpoint-1")) { error in
            XCTAssertTrue("\(error)".contains("data hash"), "\(error)")
        }
        // A damaged state file is refused, not half-loaded.
        let state = directory + "/checkpoint-1/" + FineTuneRun.optimizerStateName
        var bytes = try Data(contentsOf: URL(fileURLWithPath: state))
        bytes[5] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: state))
        XCTAssertThrowsError(try makeRun(Self.config(), sequences).resume(from: directory + "/checkpoint-1")) { error in
            XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
        }
        XCTAssertThrowsError(try FineTuneRun.checkpointDirectory(resuming: directory + "/nothing"))
    }

    func testNonFiniteLossStopsWithTheStepAndKeepsTheCheckpoint() throws {
        let directory = try temporaryDirectory()
        let run = try makeRun(Self.config(), Self.sequences(5), options: .init(saveSteps: 1, checkpointDirectory: directory))
        try run.run(untilStep: 1)
        // Poison the factors, as a diverged update would.
        let f = try XCTUnwrap(run.trainer.factors[0][.q])
        try run.trainer.setFactors(layer: 0, module: .q, a: [Float](repeating: .nan, count: f.a.count),
                                   b: [Float](repeating: 1, count: f.b.count))
        XCTAssertThrowsError(try run.run()) { error in
            guard case let FineTuneRunError.nonFiniteLoss(step, loss, checkpoint)? = error as? FineTuneRunError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(step, 2)
            XCTAssertTrue(loss.isNaN)
            XCTAssertEqual(checkpoint, directory + "/checkpoint-1")
        }
        XCTAssertEqual(run.step, 1)
        // The checkpoint is good: a fresh run resumes from it.
        let again = try makeRun(Self.config(), Self.sequences(5))
        try again.resume(from: directory + "/checkpoint-1")
        XCTAssertEqual(try again.run().count, 3)
    }

    func testShouldStopEndsTheRunAfterTheCurrentStep() throws {
        let run = try makeRun(Self.config(), Self.sequences(5))
        run.shouldStop = { run.step >= 2 }
        XCTAssertEqual(try run.run().map(\.step), [1, 2])
        run.shouldStop = nil
        XCTAssertEqual(try run.run().map(\.step), [3, 4])
    }

    func testSavedAdapterLoadsInLoom() throws {
        let directory = try temporaryDirectory()
        let run = try makeRun(Self.config(maxSteps: 2), Self.sequences(3))
        try run.run()
        let files = try run.writeAdapter(to: directory)
        XCTAssertTrue(files.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "\(files)")
        for path in [directory, directory + "/adapter.gguf"] {
            let model = try LanguageModel(path: Self.base)
            let id = try model.loadLoRA(path: path)
            let tensors = try XCTUnwrap(model.loraAdapters.first { $0.id == id }).tensorNames
            XCTAssertEqual(tensors.count, 2 * 3, path)   // 2 layers × (q, v, down)
        }
    }

    func testPackedSegmentsTrainAsSeparateSequences() throws {
        var c = Self.config(maxSteps: 1)
        c.gradientAccumulation = 1
        c.batchSize = 2
        let pieces = Self.sequences(2)
        let separate = try makeRun(c, pieces).run()
        var packedConfig = c
        packedConfig.packing = true
        let packed = try makeRun(packedConfig, [SequencePacker.concatenate(pieces)]).run()
        XCTAssertEqual(packed[0].tokens, separate[0].tokens)
        XCTAssertEqual(packed[0].loss, separate[0].loss, accuracy: 1e-6)
        XCTAssertEqual(packed[0].gradientNorm, separate[0].gradientNorm, accuracy: 1e-5)
    }

    func testUnsupportedOrBadSettingsAreRefused() throws {
        let sequences = Self.sequences(2)
        func message(_ configure: (inout FineTuneConfig) -> Void) -> String {
            var c = Self.config()
            configure(&c)
            do {
                _ = try makeRun(c, sequences)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message { $0.loraDropout = 1 }.contains("--lora-dropout must be in [0, 1)"))
        XCTAssertTrue(message { $0.learningRate = .nan }.contains("--lr must be a finite number"))
        XCTAssertThrowsError(try makeRun(Self.config(), [])) { error in
            XCTAssertEqual(error as? TrainingError, .emptyDataset(path: "the training set"))
        }
        XCTAssertThrowsError(try makeRun(Self.config(), sequences, options: .init(saveSteps: 0, checkpointDirectory: "/tmp")))
    }
}
