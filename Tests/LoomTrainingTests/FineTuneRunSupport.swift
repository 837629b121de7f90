import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomTraining

/// Runs on the tiny random llama of ``FineTuneRunTests`` in a directory removed after the test.
extension XCTestCase {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loom-finetune-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func makeRun(_ config: FineTuneConfig, _ sequences: [TrainingSequence], options: FineTuneRun.Options = .init()) throws -> FineTuneRun {
        try FineTuneRun(model: LanguageModel(path: FineTuneRunTests.base), config: config, sequences: sequences, options: options,
                        pool: ThreadPool(threadCount: 2))
    }
}
