import Foundation
import XCTest
import Crypto
import LoomFormats
import LoomHub

/// The PEFT fixtures themselves: the Swift twin of the script's adapter generator produces the
/// values PEFT saved, and the committed adapter directories and reference logits are complete.
final class PEFTFixtureTests: XCTestCase {
    func testGeneratorParametersMatchTheScript() throws {
        let g = try PEFTFixture.load().fixture.smollm2.generator
        XCTAssertEqual(g.r, PEFTFixture.smolR)
        XCTAssertEqual(g.lora_alpha, Double(PEFTFixture.smolAlpha))
        XCTAssertEqual(g.seed, PEFTFixture.smolSeed)
        XCTAssertEqual(g.amplitude_a, PEFTFixture.smolAmplitudeA)
        XCTAssertEqual(g.amplitude_b, PEFTFixture.smolAmplitudeB)
        XCTAssertEqual(g.modules, PEFTFixture.smolModules)
    }

    func testSplitMix64MatchesTheScript() throws {
        let smol = try PEFTFixture.load().fixture.smollm2
        var rng = PEFTFixture.SplitMix64(state: smol.generator.seed)
        XCTAssertEqual(smol.splitmix64_first.count, 4)
        for expected in smol.splitmix64_first {
            XCTAssertEqual(String(rng.next()), expected)
        }
        // Vigna's published first output for seed 0 (splitmix64.c): independent of the script.
        var zero = PEFTFixture.SplitMix64(state: 0)
        XCTAssertEqual(zero.next(), 0xE220_A839_7B1D_CDAF)
    }

    func testGeneratedTensorsMatchTheScript() throws {
        let smol = try PEFTFixture.load().fixture.smollm2
        XCTAssertGreaterThanOrEqual(smol.generator_checks.count, 4)
        for check in smol.generator_checks {
            let isB = check.key.hasSuffix(".lora_B.weight")
            let values = PEFTFixture.generatorValues(seed: check.seed, count: check.shape.reduce(1, *),
                                                     amplitude: isB ? PEFTFixture.smolAmplitudeB : PEFTFixture.smolAmplitudeA)
            XCTAssertEqual(Array(values.prefix(check.first.count)), check.first, check.key)
            XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, check.sum, check.key)
        }
    }

    func testWrittenSmolLM2AdapterIsPEFTsFile() throws {
        let smol = try PEFTFixture.load().fixture.smollm2
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-peft-smollm2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTFixture.writeSmolLM2Adapter(to: dir)

        let file = try SafetensorsFile(path: dir.appendingPathComponent("adapter_model.safetensors").path)
        XCTAssertEqual(file.tensors.count, 2 * 7 * PEFTFixture.smolLayers)
        XCTAssertTrue(file.tensors.allSatisfy { $0.dtype == .f32 })
        // Shapes of PEFT's own save of the same adapter, and the generator's values in the file.
        for check in smol.generator_checks {
            let info = try XCTUnwrap(file.tensor(named: check.key), check.key)
            XCTAssertEqual(info.shape, check.shape, check.key)
            XCTAssertEqual(Array(try file.floats(info).prefix(check.first.count)), check.first, check.key)
        }
        for layer in [0, 29] {
            XCTAssertEqual(file.tensor(named: PEFTFixture.smolKey(layer: layer, module: 0, isB: false))?.shape, [16, 576])
            XCTAssertEqual(file.tensor(named: PEFTFixture.smolKey(layer: layer, module: 1, isB: true))?.shape, [192, 16])
            XCTAssertEqual(file.tensor(named: PEFTFixture.smolKey(layer: layer, module: 6, isB: false))?.shape, [16, 1536])
            XCTAssertEqual(file.tensor(named: PEFTFixture.smolKey(layer: layer, module: 5, isB: true))?.shape, [1536, 16])
        }
        // Every byte: the tensors in key order hash like PEFT's save_pretrained of the adapter.
        var hasher = SHA256()
        for info in file.tensors.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            hasher.update(bufferPointer: file.data(info))
        }
        XCTAssertEqual(hasher.finalize().hex, smol.tensors_sha256)

        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["r"] as? Int, 16)
        XCTAssertEqual(config["lora_alpha"] as? Int, 32)
        XCTAssertEqual(config["target_modules"] as? [String], PEFTFixture.smolModules)
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
    }

    func testTinyCasesAreComplete() throws {
        let (root, fixture) = try PEFTFixture.load()
        let expected = ["llama_plain", "llama_rslora", "llama_dora", "llama_layers", "llama_regex", "llama_plain+second", "qwen2_plain"]
        XCTAssertEqual(Set(fixture.cases.keys), Set(expected))
        for (name, c) in fixture.cases {
            XCTAssertTrue(FileManager.default.fileExists(atPath: PEFTFixture.baseDirectory(root, c.base).appendingPathComponent("model.safetensors").path), name)
            for use in c.adapters {
                let dir = PEFTFixture.adapterDirectory(root, use.directory)
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter_config.json").path), name)
                XCTAssertNoThrow(try SafetensorsFile(path: dir.appendingPathComponent("adapter_model.safetensors").path), name)
            }
            XCTAssertEqual(c.logits.count, c.ids.count, name)
            XCTAssertEqual(c.merged_logits.count, c.ids.count, name)
            XCTAssertTrue(c.logits.allSatisfy { $0.count == 300 }, name)
            XCTAssertLessThan(c.max_unmerged_vs_merged, 1e-4, name)
            XCTAssertGreaterThan(c.max_vs_base, 0.1, name)
        }
        XCTAssertEqual(fixture.cases["llama_plain+second"]?.adapters.map(\.scale), [1.0, 0.5])
        // The bad-input directories exist as described in the script.
        let bin = PEFTFixture.adapterDirectory(root, "llama_bin")
        XCTAssertTrue(FileManager.default.fileExists(atPath: bin.appendingPathComponent("adapter_model.bin").path))
        let biasAll = try SafetensorsFile(path: PEFTFixture.adapterDirectory(root, "qwen2_bias_all").appendingPathComponent("adapter_model.safetensors").path)
        XCTAssertNotNil(biasAll.tensor(named: "base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias"))
    }

    func testSmolLM2ReferenceShowsTheAdapter() throws {
        let smol = try PEFTFixture.load().fixture.smollm2
        XCTAssertEqual(smol.adapter.top_logprobs.count, smol.ids.count)
        XCTAssertEqual(smol.adapter.logprobs_of_ids.count, smol.ids.count - 1)
        XCTAssertEqual(smol.adapter.greedy.count, 16)
        XCTAssertEqual(smol.base.greedy.count, 16)
        XCTAssertFalse(smol.top1_changed_positions.isEmpty)
        XCTAssertNotEqual(smol.adapter.greedy, smol.base.greedy)
        XCTAssertGreaterThan(smol.max_logprob_change, 0.5)
    }
}
