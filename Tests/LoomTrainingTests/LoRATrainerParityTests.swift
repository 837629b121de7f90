import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomModels
@testable import LoomTraining

/// One (and a second) full LoRA training step on tiny random llama and qwen2 models against
/// PyTorch + PEFT (scripts/gen_finetune_fixtures.py): same data and -100 masks, same initial
/// factors, same clipping and AdamW. Loss within 1e-5, gradients within 1e-4 relative,
/// parameters after each step within 1e-5.
final class LoRATrainerParityTests: XCTestCase {
    static func makeTrainer(_ c: FinetuneStepFixture.Case, checkpointing: Bool = false, threads: Int = 2,
                     modelPath: String? = nil, precision: FineTuneConfig.Precision? = nil) throws -> (LanguageModel, LoRATrainer) {
        let model = try LanguageModel(path: modelPath ?? FinetuneStepFixture.baseDirectory(c.base))
        let settings = LoRATrainingSettings(
            rank: c.r, alpha: c.lora_alpha, useRSLoRA: c.use_rslora,
            targets: Set(try c.targets.map { try XCTUnwrap(LoRAModule(rawValue: $0), $0) }), layers: c.layers,
            gradientCheckpointing: checkpointing, dropout: c.dropout ?? 0,
            precision: try precision ?? XCTUnwrap(FineTuneConfig.Precision(rawValue: c.precision ?? "f32")),
            trainNorms: c.norms_initial != nil)
        let trainer = try LoRATrainer(
            model: model, lora: settings,
            optimizer: AdamWSettings(beta1: c.betas[0], beta2: c.betas[1], eps: c.eps, weightDecay: c.weight_decay),
            schedule: try LearningRateSchedule(kind: .constant, peak: c.lr, warmupSteps: 0, totalSteps: 10),
            maxGradientNorm: c.max_grad_norm, pool: ThreadPool(threadCount: threads))
        for (key, f) in c.initial {
            let (layer, module) = try Self.parse(key)
            try trainer.setFactors(layer: layer, module: module, a: f.a, b: f.b)
        }
        if let p = c.dropout {
            // PEFT's masks of each step instead of Loom's seeded ones.
            let keep = Float(1 / (1 - p))
            let masks = c.steps.map { $0.dropout_masks ?? [:] }
            trainer.dropoutNoiseOverride = { site, count in
                guard site.step < masks.count, let perSequence = masks[site.step]["\(site.layer).\(site.module.rawValue)"],
                      site.sequence < perSequence.count else {
                    XCTFail("no fixture mask for \(site)")
                    return [Float](repeating: 1, count: count)
                }
                let bits = perSequence[site.sequence].utf8
                XCTAssertEqual(bits.count, count, "mask size of \(site)")
                return bits.map { $0 == UInt8(ascii: "1") ? keep : 0 }
            }
        }
        for (module, values) in c.norms_initial ?? [:] {
            try trainer.setNorm(try XCTUnwrap(model.config.architecture.tensorNames.ggufName(forHF: module + ".weight"), module), values: values)
        }
        // Every module the fixture has is trained here, and nothing else.
        XCTAssertEqual(Set(trainer.norms.map(\.ggufName)),
                       Set((c.norms_initial ?? [:]).keys.compactMap { model.config.architecture.tensorNames.ggufName(forHF: $0 + ".weight") }))
        let trained = trainer.factors.enumerated().flatMap { l, ms in ms.keys.map { "\(l).\($0.rawValue)" } }
        XCTAssertEqual(Set(trained), Set(c.initial.keys))
        return (model, trainer)
    }

    static func parse(_ key: String) throws -> (Int, LoRAModule) {
        let parts = key.split(separator: ".")
        return (try XCTUnwrap(Int(parts[0])), try XCTUnwrap(LoRAModule(rawValue: String(parts[1]))))
    }

    static func assertFactors(_ trainer: LoRATrainer, _ expected: [String: FinetuneStepFixture.Factors], gradients: Bool,
                       tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var worst: Float = 0, worstKey = ""
        for (key, f) in expected {
            let (layer, module) = try Self.parse(key)
            let ours = try XCTUnwrap(trainer.factors[layer][module])
            let pairs = gradients ? [(ours.gradA.array, f.a), (ours.gradB.array, f.b)] : [(ours.a.array, f.a), (ours.b.array, f.b)]
            for (mine, theirs) in pairs {
                XCTAssertEqual(mine.count, theirs.count, file: file, line: line)
                // Gradients: relative to the tensor's largest entry; parameters: absolute.
                let scale = gradients ? max(theirs.map(abs).max() ?? 0, 1e-12) : 1
                for i in 0..<mine.count {
                    let e = abs(mine[i] - theirs[i]) / scale
                    if e > worst { worst = e; worstKey = "\(key)[\(i)]: \(mine[i]) vs \(theirs[i])" }
                }
            }
        }
        XCTAssertLessThan(worst, tolerance, "\(what): worst \(worstKey)", file: file, line: line)
    }

    /// The trained norms against the fixture's (by HF module name): gradients relative to each
    /// tensor's largest entry, parameters absolute.
    static func assertNorms(_ trainer: LoRATrainer, _ expected: [String: [Float]], gradients: Bool, tolerance: Float,
                            _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let naming = trainer.model.config.architecture.tensorNames
        XCTAssertEqual(expected.count, trainer.norms.count, what, file: file, line: line)
        var worst: Float = 0, worstKey = ""
        for (module, theirs) in expected {
            let name = try XCTUnwrap(naming.ggufName(forHF: module + ".weight"))
            let norm = try XCTUnwrap(trainer.norms.first { $0.ggufName == name }, name)
            let mine = gradients ? norm.gradient.array : norm.weight.array
            XCTAssertEqual(mine.count, theirs.count, file: file, line: line)
            let scale = gradients ? max(theirs.map(abs).max() ?? 0, 1e-12) : 1
            for i in 0..<mine.count {
                let e = abs(mine[i] - theirs[i]) / scale
                if e > worst { worst = e; worstKey = "\(module)[\(i)]: \(mine[i]) vs \(theirs[i])" }
            }
        }
        XCTAssertLessThan(worst, tolerance, "\(what): worst \(worstKey)", file: file, line: line)
    }

    static func runCase(_ name: String, checkpointing: Bool = false, modelPath: String? = nil) throws {
        let fixture = try FinetuneStepFixture.load()
        let c = try XCTUnwrap(fixture.cases[name])
        let (_, trainer) = try Self.makeTrainer(c, checkpointing: checkpointing, modelPath: modelPath)
        var seen: [TrainingStepResult] = []
        trainer.onStep = { seen.append($0) }
        // Step 1: loss and gradients, then the update.
        let (loss, _) = try trainer.lossAndGradients(tokens: c.tokens, labels: c.labels)
        XCTAssertEqual(loss, c.steps[0].loss, accuracy: 1e-5, "\(name) loss")
        try Self.assertFactors(trainer, try XCTUnwrap(c.steps[0].grads), gradients: true, tolerance: 1e-4, "\(name) gradients")
        if c.norms_initial != nil {
            try Self.assertNorms(trainer, try XCTUnwrap(c.steps[0].norm_grads), gradients: true, tolerance: 1e-4, "\(name) norm gradients")
        }
        for (i, expected) in c.steps.enumerated() {
            let result = try trainer.step(tokens: c.tokens, labels: c.labels)
            XCTAssertEqual(result.loss, expected.loss, accuracy: 1e-5, "\(name) step \(i + 1) loss")
            XCTAssertEqual(result.gradientNorm, expected.grad_norm, accuracy: 1e-4 * expected.grad_norm, "\(name) step \(i + 1) norm")
            try Self.assertFactors(trainer, expected.after, gradients: false, tolerance: 1e-5, "\(name) step \(i + 1) parameters")
            if c.norms_initial != nil {
                try Self.assertNorms(trainer, try XCTUnwrap(expected.norms_after), gradients: false, tolerance: 1e-5,
                                     "\(name) step \(i + 1) norms")
            }
        }
        XCTAssertEqual(seen.map(\.step), [1, 2])
        XCTAssertEqual(seen.first?.labelCount, c.labels.map { CrossEntropyOp.shiftedTargets($0).filter { $0 != -100 }.count }.reduce(0, +))
    }

    func testLlamaStepsMatchPEFT() throws {
        try Self.runCase("llama")
        // The fixture clips (so clip_grad_norm_ is tested), the qwen2 case does not.
        XCTAssertTrue(try XCTUnwrap(FinetuneStepFixture.load().cases["llama"]).steps[0].clipped)
    }

    func testQwen2SelectiveLayerRSLoRAStepsMatchPEFT() throws {
        try Self.runCase("qwen2")
    }

    func testGradientCheckpointingGivesTheSameSteps() throws {
        try Self.runCase("llama", checkpointing: true)
        try Self.runCase("qwen2", checkpointing: true)
    }

    func testCheckpointingKeepsLessActivationMemory() throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama"])
        let (_, full) = try Self.makeTrainer(c)
        let (_, checkpointed) = try Self.makeTrainer(c, checkpointing: true)
        _ = try full.lossAndGradients(tokens: c.tokens, labels: c.labels)
        _ = try checkpointed.lossAndGradients(tokens: c.tokens, labels: c.labels)
        XCTAssertGreaterThan(full.lastActivationBytes, 0)
        XCTAssertLessThan(checkpointed.lastActivationBytes, full.lastActivationBytes)
    }

    /// The trained adapter saved as a PEFT directory loads through Loom's `--lora` machinery
    /// with the same factors, and its config names what PEFT needs.
    func testSavedAdapterLoadsWithLoomsLoRAReader() throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["qwen2"])
        let (model, trainer) = try Self.makeTrainer(c)
        try trainer.step(tokens: c.tokens, labels: c.labels)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-lora-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try trainer.writePEFT(to: dir)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(files, ["adapter_config.json", "adapter_model.safetensors"])
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(Set(config["target_modules"] as? [String] ?? []), Set(c.targets))
        let loaded = try LoRAAdapter.load(path: dir, naming: model.config.architecture.tensorNames)
        XCTAssertEqual(loaded.modules.count, c.initial.count)
        for (key, _) in c.initial {
            let (layer, module) = try Self.parse(key)
            let ours = try XCTUnwrap(trainer.factors[layer][module])
            let m = try XCTUnwrap(loaded.modules[module.ggufTensor(layer: layer)], key)
            XCTAssertEqual(m.a, ours.a.array, key)
            XCTAssertEqual(m.b, ours.b.array, key)
            XCTAssertEqual(m.scale, ours.scale, accuracy: 1e-6, key)
        }
        let id = try model.loadLoRA(path: dir)
        XCTAssertEqual(model.loraAdapters.map(\.id), [id])

        // The GGUF LoRA of the same factors (llama.cpp's layout) reads back equal.
        let gguf = dir + "/adapter.gguf"
        try trainer.writeGGUF(to: gguf)
        let fromGGUF = try LoRAAdapter.load(path: gguf, naming: model.config.architecture.tensorNames)
        XCTAssertEqual(Set(fromGGUF.modules.keys), Set(loaded.modules.keys))
        for (name, m) in loaded.modules {
            let g = try XCTUnwrap(fromGGUF.modules[name], name)
            XCTAssertEqual(g.a, m.a, name)
            XCTAssertEqual(g.b, m.b, name)
            XCTAssertEqual(g.scale, m.scale, accuracy: 1e-6, name)
        }
        XCTAssertNoThrow(try model.loadLoRA(path: gguf))
    }

    func testBadBatchesAreRefusedWithTheirReason() throws {
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama"])
        let (_, trainer) = try Self.makeTrainer(c)
        func reason(_ tokens: [[Int32]], _ labels: [[Int32]]) -> String {
            do { _ = try trainer.step(tokens: tokens, labels: labels); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(reason([[1, 2, 3]], [[-100, -100, 3]]), "accepted")
        XCTAssertTrue(reason([[1, 2, 3]], [[1, 2]]).contains("3 tokens and 2 labels"))
        XCTAssertTrue(reason([[1, 2, 300]], [[1, 2, 3]]).contains("token 300"))
        XCTAssertTrue(reason([[1, 2, 3]], [[1, 2, -5]]).contains("label -5"))
        XCTAssertTrue(reason([[1, 2, 3]], [[1, -100, -100]]).contains("nothing to learn"))
        XCTAssertTrue(reason([], []).contains("≥ 1 sequence"))
    }

    /// LoRA dropout p = 0.25 on every projection, with PEFT's masks: the dropped input feeds
    /// the LoRA path only, and the gradients flow back through the same noise.
    func testLlamaDropoutStepsMatchPEFT() throws {
        try Self.runCase("llama_dropout")
        try Self.runCase("llama_dropout", checkpointing: true)
        let c = try XCTUnwrap(FinetuneStepFixture.load().cases["llama_dropout"])
        XCTAssertEqual(c.dropout, 0.25)
        // The masks matter: Loom's own seeded masks give another loss than PyTorch's.
        let model = try LanguageModel(path: FinetuneStepFixture.baseDirectory(c.base))
        let (_, trainer) = try Self.makeTrainer(c)
        trainer.dropoutNoiseOverride = nil
        let seeded = try trainer.lossAndGradients(tokens: c.tokens, labels: c.labels).loss
        XCTAssertGreaterThan(abs(seeded - c.steps[0].loss), 1e-4)
        // Eval mode has no dropout: the loss of the undropped model, equal to a p = 0 trainer's.
        let evaluated = try trainer.lossAndGradients(tokens: c.tokens, labels: c.labels, training: false).loss
        let plain = try LoRATrainer(model: model, lora: LoRATrainingSettings(rank: c.r, alpha: c.lora_alpha, targets: trainer.lora.targets),
                                    schedule: try LearningRateSchedule(kind: .constant, peak: c.lr, warmupSteps: 0, totalSteps: 10))
        for (key, f) in c.initial {
            let (layer, module) = try Self.parse(key)
            try plain.setFactors(layer: layer, module: module, a: f.a, b: f.b)
        }
        XCTAssertEqual(evaluated, try plain.lossAndGradients(tokens: c.tokens, labels: c.labels).loss, accuracy: 1e-9)
        XCTAssertGreaterThan(abs(evaluated - c.steps[0].loss), 1e-4)
    }

    /// A BF16 base read in place (no f32 copy of the matrices) with llama3 RoPE scaling.
    func testBF16Llama3RopeBaseStepsMatchPEFT() throws {
        try Self.runCase("llama3_bf16")
        let model = try LanguageModel(path: FinetuneStepFixture.baseDirectory("llama3_rope_bf16"))
        XCTAssertEqual(model.weights.layers[0].query.weight.type, .bf16)
    }
}
