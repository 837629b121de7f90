import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomModels
@testable import LoomTraining

/// The pieces of quantisation-aware training that the PyTorch parity cases do not isolate:
/// the fake-quantisation formulas on hand-checked values, the λ schedule, the refusals, and
/// the GGUF the CLI writes (round trip through a converted, Q/K-permuted GGUF base).
final class QATTrainerTests: XCTestCase {
    func testWeightFakeQuantisationOnKnownValues() {
        // mean|w| = (0.1 + 0.2 + 0.3 + 0.4 + 0 + 1.0) / 6 = 1/3, scale 3: w·3 = 0.3, −0.6, 0.9,
        // −1.2, 0, 3 → round 0, −1, 1, −1, 0, 3 → clamp 0, −1, 1, −1, 0, 1 → /3.
        let w: [Float] = [0.1, -0.2, 0.3, -0.4, 0, 1.0]
        var out = [Float](repeating: 0, count: w.count)
        let scale = TernaryFakeQuant.weights(w, count: w.count, lambda: 1, into: &out)
        XCTAssertEqual(scale, 3, accuracy: 1e-6)
        let expected: [Float] = [0, -1, 1, -1, 0, 1].map { $0 / 3 }
        for i in 0..<w.count { XCTAssertEqual(out[i], expected[i], accuracy: 1e-7, "w[\(i)]") }
        // λ = 0.5 is half-way between W and Q(W); λ = 0 is W itself.
        TernaryFakeQuant.weights(w, count: w.count, lambda: 0.5, into: &out)
        for i in 0..<w.count { XCTAssertEqual(out[i], w[i] + 0.5 * (expected[i] - w[i]), accuracy: 1e-7) }
        TernaryFakeQuant.weights(w, count: w.count, lambda: 0, into: &out)
        XCTAssertEqual(out, w)
        // torch.round rounds half to even: 0.5 → 0 (not 1 as `rounded()` would), 1.5 → 2 → clamp 1.
        XCTAssertEqual(TernaryFakeQuant.ternary(0.5, scale: 1), 0)
        XCTAssertEqual(TernaryFakeQuant.ternary(-0.5, scale: 1), 0)
        // An all-zero tensor takes the 1e-5 floor instead of dividing by zero.
        XCTAssertEqual(TernaryFakeQuant.weightScale([0, 0], count: 2), 1e5, accuracy: 1)
    }

    func testActivationFakeQuantisationIsPerToken() {
        // Row 0: absmax 2 → scale 63.5; 1·63.5 = 63.5 → 64 (half to even) → 64/63.5.
        // Row 1: absmax 0.5 → scale 254; every value a multiple of 1/254 stays.
        let x: [Float] = [1, -2, 0.25, 0.5, -0.5, 0]
        var out = [Float](repeating: 0, count: x.count)
        TernaryFakeQuant.activations(x, rows: 2, columns: 3, lambda: 1, into: &out)
        XCTAssertEqual(out[0], 64 / 63.5, accuracy: 1e-6)
        XCTAssertEqual(out[1], -2, accuracy: 1e-6)
        XCTAssertEqual(out[2], (0.25 * 63.5).rounded(.toNearestOrEven) / 63.5, accuracy: 1e-6)
        XCTAssertEqual(Array(out[3...]), [0.5, -0.5, 0])
        TernaryFakeQuant.activations(x, rows: 2, columns: 3, lambda: 0, into: &out)
        XCTAssertEqual(out, x)
    }

    func testLambdaWarmUp() {
        let warm = QATSettings(warmupSteps: 4)
        XCTAssertEqual((0...6).map { warm.lambda(afterSteps: $0) }, [0, 0.25, 0.5, 0.75, 1, 1, 1])
        XCTAssertEqual(QATSettings(warmupSteps: 0).lambda(afterSteps: 0), 1)
    }

    func testRefusals() throws {
        let model = try LanguageModel(path: FinetuneStepFixture.baseDirectory("llama_f32_untied"))
        let schedule = try LearningRateSchedule(kind: .constant, peak: 1e-3, warmupSteps: 0, totalSteps: 2)
        XCTAssertThrowsError(try QATTrainer(model: model, settings: QATSettings(layers: [7]), schedule: schedule)) {
            XCTAssertTrue("\($0)".contains("layer 7"), "\($0)")
        }
        XCTAssertThrowsError(try QATTrainer(model: model, settings: QATSettings(modules: []), schedule: schedule))
        XCTAssertThrowsError(try QATTrainer(model: model, settings: QATSettings(warmupSteps: -1), schedule: schedule))
        let trainer = try QATTrainer(model: model, settings: QATSettings(layers: [1]), schedule: schedule)
        XCTAssertThrowsError(try trainer.lossAndGradients(tokens: [[1, 2]], labels: [[1, 2]], lambda: 2))
        XCTAssertThrowsError(try trainer.lossAndGradients(tokens: [[1, 999]], labels: [[1, 2]]))
        XCTAssertThrowsError(try trainer.setLatent(layer: 0, module: .q, values: [])) // layer 0 is not trained
        XCTAssertThrowsError(try QATModelWriter(type: .q4_0).write(base: GGUFFile(path: Self.ggufBase()), projections: trainer.projections,
                                                                 to: NSTemporaryDirectory() + "never.gguf"))
    }

    /// `--grad-checkpoint` recomputes each layer's forward pass (the fake quantisation with it)
    /// in the backward pass: the same loss and latent gradients.
    func testCheckpointingGivesTheSameGradients() throws {
        let c = try XCTUnwrap(try QATStepFixture.load().cases["llama_lambda_half"])
        let schedule = try LearningRateSchedule(kind: .constant, peak: c.lr, warmupSteps: 0, totalSteps: 2)
        func gradients(checkpointing: Bool) throws -> (Double, [[Float]]) {
            let trainer = try QATTrainer(model: LanguageModel(path: FinetuneStepFixture.baseDirectory(c.base)),
                                         settings: QATSettings(gradientCheckpointing: checkpointing), schedule: schedule,
                                         pool: ThreadPool(threadCount: 2))
            let loss = try trainer.lossAndGradients(tokens: c.tokens, labels: c.labels, lambda: 0.5).loss
            return (loss, trainer.projections.map(\.gradient.array))
        }
        let (plainLoss, plain) = try gradients(checkpointing: false)
        let (checkpointedLoss, checkpointed) = try gradients(checkpointing: true)
        XCTAssertEqual(plainLoss, checkpointedLoss)
        XCTAssertEqual(plain, checkpointed)
    }

    /// The tiny llama converted to an F32 GGUF by Loom (Q/K rows permuted), once per process.
    static func ggufBase() throws -> String {
        let path = NSTemporaryDirectory() + "loom-qat-llama-\(getpid()).gguf"
        if !FileManager.default.fileExists(atPath: path) {
            try HFToGGUFConverter(outputType: .f32).convert(directory: FinetuneStepFixture.baseDirectory("llama_f32_untied"), output: path)
        }
        return path
    }

    /// A step on the GGUF base equals one on the HF base (the fake quantisation is per tensor
    /// and element-wise, so the permuted Q/K rows do not change it), and the written model
    /// holds exactly the latent weights: loaded back, its λ = 1 loss is the trainer's.
    func testWrittenModelRoundTrips() throws {
        let c = try XCTUnwrap(try QATStepFixture.load().cases["llama_lambda_half"])
        let schedule = try LearningRateSchedule(kind: .constant, peak: c.lr, warmupSteps: 0, totalSteps: 4)
        func trainer(_ path: String) throws -> QATTrainer {
            try QATTrainer(model: LanguageModel(path: path), settings: QATSettings(warmupSteps: 0),
                           optimizer: AdamWSettings(weightDecay: c.weight_decay), schedule: schedule, pool: ThreadPool(threadCount: 2))
        }
        let gguf = try Self.ggufBase()
        let onGGUF = try trainer(gguf), onHF = try trainer(FinetuneStepFixture.baseDirectory(c.base))
        let a = try onGGUF.step(tokens: c.tokens, labels: c.labels, lambda: 0.5)
        let b = try onHF.step(tokens: c.tokens, labels: c.labels, lambda: 0.5)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-5 * b.loss)
        XCTAssertEqual(a.gradientNorm, b.gradientNorm, accuracy: 1e-4 * b.gradientNorm)

        let out = NSTemporaryDirectory() + "loom-qat-out-\(getpid()).gguf"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let base = try GGUFFile(path: gguf)
        let written = try QATModelWriter().write(base: base, projections: onGGUF.projections, to: out)
        XCTAssertEqual(written.count, 14)
        let file = try GGUFFile(path: out)
        XCTAssertEqual(file.tensors.map(\.name), base.tensors.map(\.name))
        for t in file.tensors {
            let original = try XCTUnwrap(base.tensor(named: t.name))
            XCTAssertEqual(t.dimensions, original.dimensions, t.name)
            if let p = onGGUF.projections.first(where: { $0.module.ggufTensor(layer: $0.layer) == t.name }) {
                XCTAssertEqual(t.type, .f32)
                let stored = Array(file.bytes(for: t).bindMemory(to: Float.self))
                XCTAssertEqual(stored, p.latent.array, t.name)
            } else {
                XCTAssertEqual(Array(file.bytes(for: t)), Array(base.bytes(for: original)), t.name)
            }
        }
        for key in base.metadataKeys { XCTAssertNotNil(file[key], key) }
        let reloaded = try trainer(out)
        let mine = try onGGUF.lossAndGradients(tokens: c.tokens, labels: c.labels, lambda: 1).loss
        let theirs = try reloaded.lossAndGradients(tokens: c.tokens, labels: c.labels, lambda: 1).loss
        XCTAssertEqual(mine, theirs, "the written latent weights are the trained ones")

        // --qat-export ternary: each trained tensor holds Q(W) = {−1/s, 0, +1/s} of its latent weight.
        try QATModelWriter(content: .ternary).write(base: base, projections: onGGUF.projections, to: out)
        let ternary = try GGUFFile(path: out)
        for p in onGGUF.projections {
            let t = try XCTUnwrap(ternary.tensor(named: p.module.ggufTensor(layer: p.layer)))
            let stored = Array(ternary.bytes(for: t).bindMemory(to: Float.self))
            let s = TernaryFakeQuant.weightScale(p.latent.pointer, count: p.latent.count)
            XCTAssertEqual(stored.count, p.latent.count)
            XCTAssertTrue(stored.allSatisfy { $0 == 0 || $0 == 1 / s || $0 == -1 / s }, t.name)
            XCTAssertEqual(stored, p.latent.array.map { TernaryFakeQuant.ternary($0, scale: s) }, t.name)
            XCTAssertTrue(Set(stored).count == 3, "\(t.name) uses all three values")
        }
    }
}
