import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomModels
@testable import LoomTraining

/// `--train-norms`: the RMSNorm weights of the adapted layers and the final norm trained with
/// the LoRA factors, against PyTorch + PEFT `modules_to_save` (the fixture case `llama_norms`
/// of scripts/gen_finetune_fixtures.py: AdamW with transformers Trainer's two parameter groups,
/// no decay on the norms, clipping over every trained gradient); and the adapter's round trip
/// through a PEFT directory and Loom's `--lora`.
final class TrainedNormsTests: XCTestCase {
    static func fixtureCase() throws -> FinetuneStepFixture.Case {
        try XCTUnwrap(FinetuneStepFixture.load().cases["llama_norms"])
    }

    func testTrainedNormStepsMatchPEFT() throws {
        let c = try Self.fixtureCase()
        // The case tests what it says: it clips, and its decay would move a decayed norm by
        // lr·λ·w ≈ 5e-4, far beyond the 1e-5 the parameters are compared at.
        XCTAssertTrue(c.steps[0].clipped)
        XCTAssertGreaterThanOrEqual(c.weight_decay * c.lr, 1e-4)
        XCTAssertEqual(Set(try XCTUnwrap(c.norms_initial).keys),
                       ["model.layers.1.input_layernorm", "model.layers.1.post_attention_layernorm", "model.norm"])
        try LoRATrainerParityTests.runCase("llama_norms")
    }

    func testGradientCheckpointingGivesTheSameNormSteps() throws {
        try LoRATrainerParityTests.runCase("llama_norms", checkpointing: true)
    }

    /// Without `--train-norms` the same settings train the factors only (and the norms stay
    /// the model's): the flag is what adds them.
    func testNormsAreTrainedOnlyWhenAsked() throws {
        let c = try Self.fixtureCase()
        let model = try LanguageModel(path: FinetuneStepFixture.baseDirectory(c.base))
        let plain = try LoRATrainer(model: model, lora: LoRATrainingSettings(rank: c.r, alpha: c.lora_alpha, targets: [.q, .v, .down], layers: c.layers),
                                    schedule: try LearningRateSchedule(kind: .constant, peak: c.lr, warmupSteps: 0, totalSteps: 2))
        XCTAssertTrue(plain.norms.isEmpty)
        XCTAssertTrue(plain.adapter().norms.isEmpty)
        let (_, trained) = try LoRATrainerParityTests.makeTrainer(c)
        // Layer 0 is not adapted, so its norms are not trained.
        XCTAssertEqual(trained.norms.map(\.ggufName), ["blk.1.attn_norm.weight", "blk.1.ffn_norm.weight", "output_norm.weight"])
        XCTAssertThrowsError(try trained.setNorm("blk.0.attn_norm.weight", values: [])) { error in
            XCTAssertTrue("\(error)".contains("blk.0.attn_norm.weight is not trained"), "\(error)")
        }
    }

    /// bf16/f16 autocast: the norm gradients come out of the same backward pass, close to the
    /// f32 ones (16-bit activations), with and without checkpointing alike.
    func testNormGradientsInMixedPrecision() throws {
        let c = try Self.fixtureCase()
        let reference = try XCTUnwrap(c.steps[0].norm_grads)
        for precision in [FineTuneConfig.Precision.bf16, .f16] {
            var gradients: [[Float]] = []
            for checkpointing in [false, true] {
                let (_, trainer) = try LoRATrainerParityTests.makeTrainer(c, checkpointing: checkpointing, precision: precision)
                _ = try trainer.lossAndGradients(tokens: c.tokens, labels: c.labels)
                gradients.append(trainer.norms.flatMap(\.gradient.array))
                try LoRATrainerParityTests.assertNorms(trainer, reference, gradients: true, tolerance: precision == .bf16 ? 5e-2 : 1e-2,
                                                       "\(precision) norm gradients")
            }
            XCTAssertEqual(gradients[0], gradients[1], "\(precision): checkpointing changed the norm gradients")
        }
    }

    /// Two steps with trained norms, saved as a PEFT directory, loaded with `--lora` into a
    /// fresh model: Loom's inference forward pass gives the trainer's own loss at every label
    /// (the logits agree), and detaching restores the base norms.
    func testTrainedNormsRoundTripThroughPEFTAndLoRALoading() throws {
        let c = try Self.fixtureCase()
        let (_, trainer) = try LoRATrainerParityTests.makeTrainer(c)
        for _ in 0..<2 { try trainer.step(tokens: c.tokens, labels: c.labels) }
        let expected = try trainer.lossAndGradients(tokens: c.tokens, labels: c.labels, training: false).loss

        let dir = try temporaryDirectory() + "/adapter"
        try trainer.writePEFT(to: dir)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["modules_to_save"] as? [String],
                       ["model.layers.1.input_layernorm", "model.layers.1.post_attention_layernorm", "model.norm"])
        let keys = Set(try SafetensorsFile(path: dir + "/adapter_model.safetensors").tensors.map(\.name))
        XCTAssertTrue(keys.isSuperset(of: ["base_model.model.model.layers.1.input_layernorm.weight",
                                           "base_model.model.model.layers.1.post_attention_layernorm.weight",
                                           "base_model.model.model.norm.weight"]), "\(keys.sorted())")

        let model = try LanguageModel(path: FinetuneStepFixture.baseDirectory(c.base))
        let baseLoss = try Self.loss(model, c)
        let loaded = try LoRAAdapter.load(path: dir, naming: model.config.architecture.tensorNames)
        for norm in trainer.norms { XCTAssertEqual(loaded.norms[norm.ggufName], norm.weight.array, norm.ggufName) }
        // Whole weights cannot be scaled: scales other than 1 are refused, at attach and later.
        XCTAssertThrowsError(try model.attachLoRA(loaded, scale: 0.5)) { error in
            XCTAssertTrue("\(error)".contains("replaces norm weights (modules_to_save)"), "\(error)")
        }
        XCTAssertTrue(model.loraAdapters.isEmpty)
        let id = try model.attachLoRA(loaded)
        XCTAssertThrowsError(try model.setLoRAScale(id: id, scale: 0))
        XCTAssertThrowsError(try model.validateLoRAScales([id: 0.5]))
        XCTAssertNoThrow(try model.validateLoRAScales([id: 1]))
        XCTAssertEqual(try Self.loss(model, c), expected, accuracy: 1e-5)
        XCTAssertThrowsError(try model.attachLoRA(loaded)) { error in
            XCTAssertTrue("\(error)".contains("already replaces the norm weights"), "\(error)")
        }
        try model.detachLoRA(id: id)
        XCTAssertEqual(try Self.loss(model, c), baseLoss)

        // The norms matter: the same factors with the base norms give another loss.
        var factorsOnly = loaded
        factorsOnly.norms = [:]
        try model.attachLoRA(factorsOnly)
        XCTAssertGreaterThan(abs(try Self.loss(model, c) - expected), 1e-3)
    }

    /// llama.cpp's GGUF LoRA has only lora_a/lora_b: trained norms are refused by name.
    func testGGUFLoRARefusesTrainedNorms() throws {
        let c = try Self.fixtureCase()
        let (model, trainer) = try LoRATrainerParityTests.makeTrainer(c)
        let dir = try temporaryDirectory()
        XCTAssertThrowsError(try trainer.writeGGUF(to: dir + "/adapter.gguf")) { error in
            XCTAssertTrue("\(error)".contains("cannot hold the trained norms (--train-norms"), "\(error)")
        }
        let cfg = model.config
        let adapter = trainer.adapter().reordered(to: .gguf, headCount: cfg.headCount, kvHeadCount: cfg.kvHeadCount, permutesQK: cfg.architecture.permutesQK)
        XCTAssertThrowsError(try adapter.writeGGUF(to: dir + "/adapter.gguf", architecture: "llama")) { error in
            XCTAssertEqual((error as? LoRAAdapterError)?.field, "modules_to_save", "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/adapter.gguf"))
    }

    /// The PEFT reader takes `modules_to_save` for the norms only; other saved modules, and a
    /// norm weight the config does not declare, are named errors.
    func testPEFTReaderAcceptsOnlyNormModulesToSave() throws {
        let c = try Self.fixtureCase()
        let (model, trainer) = try LoRATrainerParityTests.makeTrainer(c)
        let naming = model.config.architecture.tensorNames
        let dir = try temporaryDirectory() + "/adapter"
        try trainer.writePEFT(to: dir)
        let configURL = URL(fileURLWithPath: dir + "/adapter_config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        func rewrite(_ saved: [String]?) throws {
            config["modules_to_save"] = saved
            try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        }
        try rewrite(["input_layernorm", "post_attention_layernorm", "norm"])   // PEFT's suffix form is fine too
        XCTAssertEqual(try LoRAAdapter.load(path: dir, naming: naming).norms.count, 3)
        try rewrite(["model.norm", "lm_head"])
        XCTAssertThrowsError(try LoRAAdapter.load(path: dir, naming: naming)) { error in
            let e = error as? LoRAAdapterError
            XCTAssertEqual(e?.field, "modules_to_save")
            XCTAssertTrue(e?.reason.contains("replacing whole modules (lm_head) is not supported") == true, "\(error)")
        }
        try rewrite(nil)
        XCTAssertThrowsError(try LoRAAdapter.load(path: dir, naming: naming)) { error in
            XCTAssertTrue("\(error)".contains("is a whole norm weight but adapter_config.json has no modules_to_save"), "\(error)")
        }
    }

    /// A run with trained norms checkpoints and resumes them (values and AdamW moments) bit
    /// for bit; its gradient norm includes them; a run without the flag does not resume its
    /// checkpoint; its adapter is the PEFT directory only.
    func testRunWithTrainedNormsResumesExactly() throws {
        let sequences = FineTuneRunTests.sequences(5)
        var c = FineTuneRunTests.config()
        c.trainNorms = true
        c.weightDecay = 0.1
        let straightRun = try makeRun(c, sequences)
        let straight = try straightRun.run()
        XCTAssertEqual(straightRun.trainer.norms.count, 2 * 2 + 1)
        let plain = try makeRun(FineTuneRunTests.config(), sequences).run()
        XCTAssertEqual(straight[0].loss, plain[0].loss)   // the same model before any update
        XCTAssertGreaterThan(straight[0].gradientNorm, plain[0].gradientNorm)   // plus the norms' gradients

        let directory = try temporaryDirectory()
        let first = try makeRun(c, sequences, options: .init(saveSteps: 2, checkpointDirectory: directory))
        _ = try first.run(untilStep: 2)
        let checkpoint = try FineTuneRun.checkpointDirectory(resuming: directory)
        let state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: checkpoint + "/trainer_state.json"))) as? [String: Any])
        let names = (state["parameters"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertEqual(Array(names.suffix(5)), ["blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "blk.1.attn_norm.weight",
                                                "blk.1.ffn_norm.weight", "output_norm.weight"])
        let resumed = try makeRun(c, sequences)
        try resumed.resume(from: checkpoint)
        let rest = try resumed.run()
        XCTAssertEqual(rest.map(\.loss.bitPattern), straight.suffix(2).map(\.loss.bitPattern))
        XCTAssertEqual(rest.map(\.gradientNorm.bitPattern), straight.suffix(2).map(\.gradientNorm.bitPattern))
        XCTAssertEqual(resumed.trainer.norms.map(\.weight.array), straightRun.trainer.norms.map(\.weight.array))

        XCTAssertThrowsError(try makeRun(FineTuneRunTests.config(), sequences).resume(from: checkpoint)) { error in
            XCTAssertTrue("\(error)".contains("--train-norms"), "\(error)")
        }
        let out = try temporaryDirectory()
        let files = try resumed.writeAdapter(to: out).map { ($0 as NSString).lastPathComponent }
        XCTAssertEqual(files, ["adapter_config.json", "adapter_model.safetensors"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/adapter.gguf"))
    }

    /// transformers' causal-LM loss of `model` (with whatever is attached) on the fixture's
    /// batch, from the inference session's logits at every position.
    static func loss(_ model: LanguageModel, _ c: FinetuneStepFixture.Case) throws -> Double {
        var total = 0.0, count = 0
        for (tokens, labels) in zip(c.tokens, c.labels) {
            let targets = CrossEntropyOp.shiftedTargets(labels)
            let session = try model.makeSession(contextLength: tokens.count, cacheTypes: .f32)
            try session.evaluate(tokens.map(Int.init)) { i, logits in
                let target = targets[i]
                guard target != CrossEntropyOp.ignoreIndex else { return }
                let top = Double(logits.max()!)
                let sum = logits.reduce(0.0) { $0 + exp(Double($1) - top) }
                total += top + log(sum) - Double(logits[Int(target)])
                count += 1
            }
        }
        return total / Double(count)
    }
}
