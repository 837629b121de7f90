import Foundation
import XCTest
import LoomGeneration
import LoomHub
import LoomKernels
import LoomModels
@testable import LoomTraining

/// LoRA training on the real SmolLM2-135M (the catalog Q4_1 GGUF, trained as stored: QLoRA
/// through the block kernels): the loss on a repeated batch falls, and with
/// `LOOM_FINETUNE_BENCH=1` the step speed is printed for Benchmarks/finetune_bench.py
/// (`LOOM_FINETUNE_BENCH_LENGTHS`, `_THREADS`, `_STEPS`). Speed is never asserted.
final class TrainingSpeedTests: XCTestCase {
    /// r=8, alpha 16 on all seven projections of `layers` (nil: all).
    func makeTrainer(_ model: LanguageModel, threads: Int, layers: [Int]? = nil, lr: Double = 1e-4) throws -> LoRATrainer {
        try LoRATrainer(model: model, lora: LoRATrainingSettings(rank: 8, alpha: 16, targets: Set(LoRAModule.allCases), layers: layers, seed: 1),
                        schedule: try LearningRateSchedule(kind: .constant, peak: lr, warmupSteps: 0, totalSteps: 100),
                        maxGradientNorm: 1.0, pool: ThreadPool(threadCount: threads))
    }

    func randomTokens(_ n: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var r = SplitMix64(seed: seed)
        return (0..<n).map { _ in Int32(r.next() % UInt64(vocab)) }
    }

    func testSmolLM2LoRALossFallsOnARepeatedBatch() throws {
        let model = try LanguageModel(path: try ModelStore().resolve("smollm2", progress: .silent))
        let env = ProcessInfo.processInfo.environment
        let threads = Int(env["LOOM_FINETUNE_BENCH_THREADS"] ?? "") ?? 2
        // The last six layers only: the backward pass stops there, which keeps a debug run short.
        let trainer = try makeTrainer(model, threads: threads, layers: Array(24..<30), lr: 1e-2)
        let text = model.tokenizer.encode("The quick brown fox jumps over the lazy dog. Bitcoin is a decentralized digital currency.")
            .map(Int32.init)
        var losses: [Double] = []
        for _ in 0..<4 { losses.append(try trainer.step(tokens: [text], labels: [text]).loss) }
        XCTAssertLessThan(losses.last!, losses.first! - 0.05, "losses \(losses)")
        XCTAssertTrue(losses.allSatisfy(\.isFinite))

        guard env["LOOM_FINETUNE_BENCH"] == "1" else { return }
        let steps = Int(env["LOOM_FINETUNE_BENCH_STEPS"] ?? "") ?? 3
        for length in (env["LOOM_FINETUNE_BENCH_LENGTHS"] ?? "128").split(separator: ",").compactMap({ Int($0) }) {
            let t = try makeTrainer(model, threads: threads)
            var times: [Double] = []
            for i in 0...steps {
                let ids = randomTokens(length, vocab: model.config.vocabularySize, seed: UInt64(i))
                let start = DispatchTime.now().uptimeNanoseconds
                try t.step(tokens: [ids], labels: [ids])
                if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
            let median = times.sorted()[times.count / 2]
            print("loom-finetune-bench seq=\(length) threads=\(threads) tokens_per_s=\(String(format: "%.1f", Double(length) / median)) activation_MB=\(t.lastActivationBytes >> 20)")
        }
    }
}
