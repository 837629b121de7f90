import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomTraining

/// ``QATRun`` on the tiny llama of ``FineTuneRunTests``: the λ warm-up across steps, and
/// checkpoints that resume bit-identically (latent weights, AdamW moments, step, λ).
final class QATRunTests: XCTestCase {
    func makeQATRun(_ sequences: [TrainingSequence], warmup: Int = 3, options: FineTuneRun.Options = .init()) throws -> QATRun {
        try QATRun(model: LanguageModel(path: FineTuneRunTests.base), config: FineTuneRunTests.config(), warmupSteps: warmup,
                   sequences: sequences, validation: Array(sequences.prefix(1)), options: options, pool: ThreadPool(threadCount: 2))
    }

    func testResumeContinuesWithBitIdenticalLosses() throws {
        let sequences = FineTuneRunTests.sequences(5)
        let straightRun = try makeQATRun(sequences)
        var lambdas: [Double] = []
        straightRun.onStep = { lambdas.append($1) }
        let straight = try straightRun.run()
        XCTAssertEqual(straight.count, 4)
        XCTAssertEqual(lambdas, [0, 1.0 / 3, 2.0 / 3, 1])
        // The eval loss (at the last step) is taken at λ = 1.
        XCTAssertEqual(try XCTUnwrap(straight.last?.evalLoss), try XCTUnwrap(straightRun.evaluationLoss(lambda: 1)))

        let directory = try temporaryDirectory()
        let first = try makeQATRun(sequences, options: .init(saveSteps: 2, checkpointDirectory: directory))
        XCTAssertEqual(try first.run(untilStep: 2).map(\.loss), straight.prefix(2).map(\.loss))
        let checkpoint = try FineTuneRun.checkpointDirectory(resuming: directory)
        XCTAssertEqual(checkpoint, directory + "/checkpoint-2")

        let resumed = try makeQATRun(sequences)
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.step, 2)
        XCTAssertEqual(resumed.trainer.currentLambda, 2.0 / 3)
        let rest = try resumed.run()
        XCTAssertEqual(rest.map(\.step), [3, 4])
        XCTAssertEqual(rest.map(\.loss.bitPattern), straight.suffix(2).map(\.loss.bitPattern))
        XCTAssertEqual(rest.map(\.gradientNorm.bitPattern), straight.suffix(2).map(\.gradientNorm.bitPattern))
        XCTAssertEqual(resumed.trainer.projections.map(\.latent.array), straightRun.trainer.projections.map(\.latent.array))

        // Another warm-up is another run; a LoRA checkpoint is not a QAT one.
        XCTAssertThrowsError(try makeQATRun(sequences, warmup: 5).resume(from: checkpoint)) {
            XCTAssertTrue("\($0)".contains("--qat-warmup-steps"), "\($0)")
        }
        let lora = try makeRun(FineTuneRunTests.config(), sequences, options: .init(saveSteps: 1, checkpointDirectory: directory + "/lora"))
        try lora.run(untilStep: 1)
        XCTAssertThrowsError(try makeQATRun(sequences).resume(from: directory + "/lora/checkpoint-1")) {
            XCTAssertTrue("\($0)".contains("not a QAT checkpoint"), "\($0)")
        }
        XCTAssertThrowsError(try lora.resume(from: checkpoint))
    }
}
