import Foundation
import XCTest
import LoomHub
import LoomGeneration
import LoomKernels
import LoomModels
@testable import LoomTraining

/// Repeated passes give bit-identical gradients on 2 threads (what exact `--resume` relies
/// on). The SmolLM2 case caught the tiled attention's dK/dV depending on which thread claimed
/// which tile (k/v gradients differing in the last bits from one pass to the next, intermittently).
final class TrainingDeterminismTests: XCTestCase {
    func testTrainingGEMMIsDeterministic() throws {
        let pool = ThreadPool(threadCount: 2)
        for (m, depth, width) in [(576, 100, 576), (192, 77, 576), (576, 128, 576)] {
            var rng = SplitMix64(seed: 1)
            let a = (0..<m * depth).map { _ in Float(rng.next() % 1000) / 1000 - 0.5 }
            let w = (0..<depth * width).map { _ in Float(rng.next() % 1000) / 1000 - 0.5 }
            var results: [[Float]] = []
            for _ in 0..<6 {
                var c = [Float](repeating: 0, count: m * width)
                w.withUnsafeBufferPointer { wp in
                    let wm = WeightMatrix(type: .f32, rows: depth, columns: width, base: UnsafeRawPointer(wp.baseAddress!))
                    TrainingGEMM.multiply(a, rows: m, lda: depth, wm, form: .plain, into: &c, ldc: width, accumulate: true, pool: pool)
                }
                results.append(c)
            }
            for r in results.dropFirst() { XCTAssertEqual(r, results[0], "\(m) \(depth) \(width)") }
        }
    }

    func testSmolLM2GradientsAreDeterministic() throws {
        let model = try LanguageModel(path: ModelStore().resolve("smollm2", progress: .silent))
        let trainer = try QATTrainer(model: model, settings: QATSettings(modules: [.q, .k], layers: [29]),
                                     schedule: try LearningRateSchedule(kind: .constant, peak: 1e-3, warmupSteps: 0, totalSteps: 3),
                                     pool: ThreadPool(threadCount: 2))
        var rng = SplitMix64(seed: 3)
        let tokens = [(0..<100).map { _ in Int32(rng.next() % 49152) }, (0..<60).map { _ in Int32(rng.next() % 49152) }]
        var grads: [[[Float]]] = []
        var losses: [Double] = []
        for _ in 0..<4 {
            losses.append(try trainer.lossAndGradients(tokens: tokens, labels: tokens, lambda: 0).loss)
            grads.append(trainer.projections.map(\.gradient.array))
        }
        XCTAssertEqual(Set(losses).count, 1)
        for (i, g) in grads.enumerated().dropFirst() {
            for (j, t) in g.enumerated() {
                let diff = zip(t, grads[0][j]).filter { $0 != $1 }.count
                XCTAssertEqual(diff, 0, "run \(i) projection \(j): \(diff) differing elements")
            }
        }
    }
}
