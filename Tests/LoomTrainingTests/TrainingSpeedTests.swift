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
/// (`LOOM_FINETUNE_BENCH_LENGTHS`, `_THREADS`, `_STEPS`, `_CHECKPOINT`; `LOOM_TRAIN_PROFILE=1` adds
/// the time per kind of op). Speed is never asserted.
final class TrainingSpeedTests: XCTestCase {
    /// r=8, alpha 16 on all seven projections of `layers` (nil: all).
    func makeTrainer(_ model: LanguageModel, threads: Int, layers: [Int]? = nil, lr: Double = 1e-4, checkpointing: Bool = false) throws -> LoRATrainer {
        var settings = LoRATrainingSettings(rank: 8, alpha: 16, targets: Set(LoRAModule.allCases), layers: layers, seed: 1)
        settings.gradientCheckpointing = checkpointing
        return try LoRATrainer(model: model, lora: settings,
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
        let checkpointing = env["LOOM_FINETUNE_BENCH_CHECKPOINT"] == "1"
        for length in (env["LOOM_FINETUNE_BENCH_LENGTHS"] ?? "128").split(separator: ",").compactMap({ Int($0) }) {
            // The peak resident set of this length's run only (Linux: writing 5 to clear_refs
            // resets VmHWM to the current RSS).
            try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
            let t = try makeTrainer(model, threads: threads, checkpointing: checkpointing)
            var times: [Double] = [], profiled: [(wall: Double, cpu: Double)] = []
            for i in 0...steps {
                let ids = randomTokens(length, vocab: model.config.vocabularySize, seed: UInt64(i))
                if i == 1 { TrainingProfile.reset() }
                let start = TrainingProfile.Instant.now()
                try t.step(tokens: [ids], labels: [ids])
                if i > 0 {
                    let seconds = TrainingProfile.Instant.now().seconds(since: start)
                    times.append(seconds.wall)
                    profiled.append(seconds)
                }
            }
            let median = times.sorted()[times.count / 2]
            print("loom-finetune-bench seq=\(length) threads=\(threads) checkpoint=\(checkpointing ? 1 : 0) "
                  + "tokens_per_s=\(String(format: "%.1f", Double(length) / median)) activation_bytes=\(t.lastActivationBytes) "
                  + "peak_rss_kb=\(Self.peakResidentKilobytes() ?? -1)")
            if TrainingProfile.enabled {
                // Per op: wall and CPU seconds a step, and CPU ÷ wall (the cores it kept busy).
                let wall = profiled.map(\.wall).reduce(0, +), cpu = profiled.map(\.cpu).reduce(0, +)
                func line(_ label: String, _ w: Double, _ c: Double) -> String {
                    "loom-finetune-profile seq=\(length) \(label): wall \(String(format: "%.3f", w / Double(steps))) s/step "
                        + "(\(String(format: "%.1f", 100 * w / wall)) %), cpu \(String(format: "%.3f", c / Double(steps))) s/step "
                        + "(\(String(format: "%.1f", 100 * c / cpu)) %), cpu/wall \(String(format: "%.2f", w > 0 ? c / w : 0))"
                }
                let report = TrainingProfile.report
                for entry in report { print(line(entry.label, entry.wall, entry.cpu)) }
                print(line("untimed rest", wall - report.map(\.wall).reduce(0, +), cpu - report.map(\.cpu).reduce(0, +)))
                print(line("step", wall, cpu))
            }
        }
    }

    /// VmHWM of /proc/self/status, nil where there is none.
    static func peakResidentKilobytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
}
