import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomTokenizer
@testable import LoomModels

/// Hugging Face directories written by an independent tool: tiny random models that
/// transformers built and saved with `save_pretrained(safe_serialization=True)`
/// (scripts/gen_hf_independent_fixtures.py). Loom loads each directory as shipped and its
/// logits at every position must equal the float32 logits transformers computed from the same
/// directory. The reference upcasts BF16/F16 weights exactly to F32, so every model gets the
/// same tight tolerance; what remains is float summation order.
final class IndependentHFDirectoryTests: XCTestCase {
    /// Largest allowed |Δ logit| (logits are O(1–10); the fixture rounds to 1e-5).
    static let tolerance = 1e-4

    static let loaded = Result { try TransformersLogitsFixture.load("hf_independent") }
    static func root() throws -> URL { try loaded.get().root }
    static var fixture: Result<TransformersLogitsFixture, Error> { loaded.map(\.fixture) }

    /// Loads directory `name`, checks tokenizer ids and all-position logits; returns the model
    /// and the largest difference seen.
    @discardableResult
    func check(_ name: String) throws -> (LanguageModel, Double) {
        let reference = try XCTUnwrap(try Self.fixture.get().models[name], name)
        let model = try LanguageModel(path: try Self.root().appendingPathComponent(name).path)
        let worst = try Self.fixture.get().worstDifference(model, name)
        XCTAssertLessThanOrEqual(worst, Self.tolerance, "\(name): max |Δ logit| vs transformers")
        print("\(name) (\(reference.dtype ?? "?")): max |Δ logit| vs transformers \(try Self.fixture.get().transformers) = \(worst)")
        return (model, worst)
    }

    func testLlamaF32UntiedWithWideHeads() throws {
        let (model, _) = try check("llama_f32_untied")
        XCTAssertFalse(model.weights.tiedOutput)
        XCTAssertEqual(model.config.headDim, 16, "head_dim 16 with hidden 32 and 4 heads")
        XCTAssertEqual(model.config.ropeLayout, .halfSplit)
        // transformers 5 writes the chat template to chat_template.jinja.
        XCTAssertEqual(model.chatTemplate?.contains("<|begin|>assistant"), true)
        let generation = try XCTUnwrap(model.generationDefaults)
        XCTAssertEqual(generation.temperature, 0.7)
        XCTAssertEqual(generation.topK, 20)
        XCTAssertEqual(generation.eosTokenIDs, [1])
        XCTAssertTrue(model.tokenizer.endOfGenerationIDs.contains(1))
    }

    func testQwen2TiedWithBiases() throws {
        let (model, _) = try check("qwen2_tied_bias")
        XCTAssertEqual(model.config.architecture, .qwen2)
        XCTAssertTrue(model.weights.tiedOutput)
    }

    func testLlama3RopeScalingInBF16() throws {
        let reference = try XCTUnwrap(try Self.fixture.get().models["llama3_rope_bf16"])
        // The fixture is only a test of the scaling if dropping it moves the logits a lot.
        XCTAssertGreaterThan(try XCTUnwrap(reference.without_rope_scaling_max_diff), 100 * Self.tolerance)
        let (model, _) = try check("llama3_rope_bf16")
        XCTAssertNotNil(model.weights.ropeFrequencyFactors)
        let checkpoint = try XCTUnwrap(model.checkpoint)
        XCTAssertEqual(checkpoint.tensor(named: "model.layers.0.mlp.up_proj.weight")?.info.dtype, .bf16)
    }

    /// YaRN (Qwen2.5's long-context scaling): per-pair frequency ramp and the cos/sin
    /// attention factor, against transformers' own `_compute_yarn_parameters`.
    func testQwen2YarnRopeScaling() throws {
        let reference = try XCTUnwrap(try Self.fixture.get().models["qwen2_yarn"])
        XCTAssertGreaterThan(try XCTUnwrap(reference.without_rope_scaling_max_diff), 100 * Self.tolerance)
        let (model, _) = try check("qwen2_yarn")
        let yarn = try XCTUnwrap(model.config.ropeYarn)
        XCTAssertEqual(yarn.factor, 4)
        XCTAssertEqual(yarn.originalContext, 16)
        XCTAssertEqual(yarn.magnitude, 0.1 * log(4) + 1, accuracy: 1e-12)
    }

    /// `loom convert` writes the yarn keys (as convert_hf_to_gguf does) and the GGUF path reads
    /// them back: the converted file gives transformers' logits too.
    func testYarnSurvivesConversionToGGUF() throws {
        let reference = try XCTUnwrap(try Self.fixture.get().models["qwen2_yarn"])
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("loom-yarn-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try HFToGGUFConverter(outputType: .f32).convert(directory: try Self.root().appendingPathComponent("qwen2_yarn").path, output: out)
        let model = try LanguageModel(path: out)
        XCTAssertEqual(model.config.ropeYarn?.factor, 4)
        XCTAssertEqual(model.config.ropeYarn?.originalContext, 16)
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        var worst = 0.0
        for c in reference.cases {
            session.reset()
            try session.evaluate(c.ids) { index, logits in
                for (a, b) in zip(logits, c.logits[index]) { worst = max(worst, abs(Double(a) - b)) }
            }
        }
        XCTAssertLessThanOrEqual(worst, Self.tolerance, "converted yarn model vs transformers")
    }

    func testShardedF16() throws {
        let (model, _) = try check("llama_sharded_f16")
        let checkpoint = try XCTUnwrap(model.checkpoint)
        XCTAssertGreaterThan(checkpoint.files.count, 1, "saved with a small max_shard_size")
        XCTAssertEqual(checkpoint.tensor(named: "lm_head.weight")?.info.dtype, .f16)
    }

    /// A one-off check on a real model, run only when `LOOM_HF_CHECK_DIR` names a directory
    /// made by scripts/check_hf_transformers_gguf.py (transformers loads a GGUF and
    /// `save_pretrained`s it, with its own logits in reference_logits.json).
    func testExternalDirectory() throws {
        guard let dir = ProcessInfo.processInfo.environment["LOOM_HF_CHECK_DIR"] else {
            throw XCTSkip("set LOOM_HF_CHECK_DIR to run")
        }
        struct Reference: Decodable { let cases: [TransformersLogitsFixture.Case] }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/reference_logits.json")))
        let model = try LanguageModel(path: dir)
        let session = try model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        var worst = 0.0
        var topAgree = 0, positions = 0
        for c in reference.cases {
            XCTAssertEqual(model.tokenizer.encode(c.text), c.ids, "tokenizer ids for '\(c.text)'")
            session.reset()
            try session.evaluate(c.ids) { index, logits in
                let expected = c.logits[index]
                for (a, b) in zip(logits, expected) { worst = max(worst, abs(Double(a) - b)) }
                positions += 1
                if VectorOps.argmax(logits.baseAddress!, count: logits.count) == expected.indices.max(by: { expected[$0] < expected[$1] }) {
                    topAgree += 1
                }
            }
        }
        print("\(dir): max |Δ logit| vs transformers = \(worst); top-1 equal at \(topAgree)/\(positions) positions")
        XCTAssertLessThanOrEqual(worst, 1e-2)
    }

    /// Biases the forward pass does not apply (llama's o_proj bias, MLP biases) are refused
    /// by name instead of silently dropped.
    func testUnsupportedBiasesAreRefused() throws {
        let source = try Self.root().appendingPathComponent("llama_f32_untied")
        for key in ["attention_bias", "mlp_bias"] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-hf-bias-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: source, to: dir)
            defer { try? FileManager.default.removeItem(at: dir) }
            let configURL = dir.appendingPathComponent("config.json")
            var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
            config[key] = true
            try JSONSerialization.data(withJSONObject: config).write(to: configURL)
            XCTAssertThrowsError(try LanguageModel(path: dir.path)) { XCTAssertTrue("\($0)".contains(key), "\($0)") }
        }
    }

    /// config.json values that used to be accepted silently: an untied head with no
    /// `lm_head` (would fall back to the embedding), an implausible context, an epsilon that is
    /// inf as Float32, another activation, another architecture.
    func testInconsistentOrImplausibleConfigsAreRefused() throws {
        let source = try Self.root().appendingPathComponent("qwen2_tied_bias")
        let cases: [(String, Any, String)] = [
            ("tie_word_embeddings", false, "lm_head"),
            ("max_position_embeddings", 1 << 40, "max_position_embeddings"),
            ("rms_norm_eps", 1e300, "rms_norm_eps"),
            ("hidden_act", "gelu", "hidden_act"),
            ("architectures", ["GPT2LMHeadModel"], "GPT2LMHeadModel"),
            ("model_type", "gpt2", "'gpt2' does not match Qwen2ForCausalLM"),
            // Once an allocation abort: `map` reserved room for 2^27 layers before binding any.
            ("num_hidden_layers", 1 << 27, "(the config says 134217728 layers)"),
            ("num_hidden_layers", 1 << 31, "implausibly large"),
            ("num_hidden_layers", 3, "blk.2.attn_norm.weight (the config says 3 layers)"),
            ("vocab_size", 1 << 40, "implausibly large"),
        ]
        for (key, value, expected) in cases {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-hf-config-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: source, to: dir)
            defer { try? FileManager.default.removeItem(at: dir) }
            let configURL = dir.appendingPathComponent("config.json")
            var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
            config[key] = value
            try JSONSerialization.data(withJSONObject: config).write(to: configURL)
            XCTAssertThrowsError(try LanguageModel(path: dir.path), key) { XCTAssertTrue("\($0)".contains(expected), "\(key): \($0)") }
        }
    }
}
