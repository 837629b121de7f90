import Foundation
import LoomTestSupport
import XCTest
import LoomFormats

/// `Fixtures/peft/reference_logits.json` as scripts/gen_peft_fixtures.py writes it: LoRA
/// adapters saved by PEFT itself on the tiny random bases of `Fixtures/hf_independent/`, with
/// PEFT's float32 logits unmerged and after `merge_and_unload()`; and the SmolLM2 case, whose
/// adapter is too big to commit and is instead written by ``writeSmolLM2Adapter(to:)`` from the
/// same deterministic generator the script uses.
struct PEFTFixture: Decodable {
    /// One adapter of a case and the runtime scale it is applied with.
    struct AdapterUse: Decodable, Equatable {
        /// Adapter directory name under `Fixtures/peft/`.
        let directory: String
        /// Loom's `--lora-scaled` scale; PEFT's `LoraLayer.set_scale`.
        let scale: Double

        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            directory = try c.decode(String.self)
            scale = try c.decode(Double.self)
        }
    }

    /// A base, the adapters applied to it, and PEFT's logits at every position of `ids`.
    struct Case: Decodable {
        /// Base directory name under `Fixtures/hf_independent/`.
        let base: String
        let adapters: [AdapterUse]
        let text: String
        /// Token ids of `text` (base tokenizer, no special tokens).
        let ids: [Int]
        /// Unmerged PEFT model: y = W x + Σ scale_i · s_i · B_i (A_i x); [position][vocab].
        let logits: [[Double]]
        /// After `merge_and_unload()`: W' = W + Σ scale_i · s_i · B_i A_i.
        let merged_logits: [[Double]]
        let max_unmerged_vs_merged: Double
        /// How far the adapters move the logits from the base's (proof the case tests them).
        let max_vs_base: Double
    }

    /// Log-probabilities of one model run on the SmolLM2 text and prompt.
    struct SmolLM2Outputs: Decodable {
        /// Per position of `ids`: the 10 best `[id, logprob]` pairs, best first.
        let top_logprobs: [[[Double]]]
        /// logprob of `ids[p + 1]` at position `p`.
        let logprobs_of_ids: [Double]
        /// Greedy continuation of `prompt_ids` (full recompute per step).
        let greedy: [Int]
        /// Top-1 minus top-2 logit at each greedy step (small gaps may flip under rounding).
        let greedy_gaps: [Double]
        let greedy_text: String
    }

    /// The deterministic adapter's parameters (see ``writeSmolLM2Adapter(to:)``).
    struct Generator: Decodable {
        let r: Int
        let lora_alpha: Double
        let seed: UInt64
        let amplitude_a: Float
        let amplitude_b: Float
        let seed_formula: String
        let modules: [String]
    }

    /// Values of one generated tensor, as the script computed them and PEFT saved them.
    struct GeneratorCheck: Decodable {
        let key: String
        let shape: [Int]
        let seed: UInt64
        let first: [Float]
        /// Exact Float64 sum of all values.
        let sum: Double
    }

    /// SmolLM2-135M (the catalog GGUF) with the deterministic r=16 adapter on all seven
    /// projections of all 30 layers, against PEFT on transformers' dequantisation of that GGUF.
    struct LlamaCpp: Decodable {
        let llama_cpp_python: String
        let greedy: [Int]
        let loom_lora_greedy: [Int]
        let base_greedy: [Int]
    }

    struct SmolLM2: Decodable {
        let gguf: String
        let gguf_sha256: String
        let generator: Generator
        let generator_checks: [GeneratorCheck]
        /// The first raw splitmix64 outputs from `generator.seed`, as decimal strings.
        let splitmix64_first: [String]
        /// sha256 of all tensors' F32 bytes, concatenated in key order, of PEFT's save.
        let tensors_sha256: String
        let text: String
        let ids: [Int]
        let prompt: String
        let prompt_ids: [Int]
        let adapter: SmolLM2Outputs
        let base: SmolLM2Outputs
        let max_logprob_change: Double
        /// Positions of `ids` where the adapter changes the argmax.
        let top1_changed_positions: [Int]
        /// llama.cpp (llama-cpp-python) on the GGUF base: greedy with its own converter's GGUF
        /// LoRA of the adapter, with the GGUF LoRA `loom convert-lora` wrote, and without.
        let llamacpp: LlamaCpp
    }

    let transformers: String
    let peft: String
    let cases: [String: Case]
    let smollm2: SmolLM2

    /// `Fixtures/peft/` of the test bundle, materialised (adapter weights generated from their
    /// `weights.json` and verified; `../hf_independent` linked next to it), and its reference logits.
    static func load() throws -> (root: URL, fixture: PEFTFixture) {
        let source = try XCTUnwrap(Bundle.module.url(forResource: "peft", withExtension: nil, subdirectory: "Fixtures"))
        let root = try SyntheticFixture.materialize(source, siblings: ["hf_independent"])
        let fixture = try JSONDecoder().decode(Self.self, from: Data(contentsOf: root.appendingPathComponent("reference_logits.json")))
        return (root, fixture)
    }

    /// The adapter directory `name` (e.g. "llama_plain") next to `root`.
    static func adapterDirectory(_ root: URL, _ name: String) -> URL {
        root.appendingPathComponent(name, isDirectory: true)
    }

    /// The base model directory `name` (e.g. "llama_f32_untied") of `Fixtures/hf_independent/`.
    static func baseDirectory(_ root: URL, _ name: String) -> URL {
        root.deletingLastPathComponent().appendingPathComponent("hf_independent", isDirectory: true)
            .appendingPathComponent(name, isDirectory: true)
    }
}

// MARK: - The deterministic SmolLM2 adapter

extension PEFTFixture {
    /// splitmix64 (Steele, Lea & Flood 2014; Vigna's reference C, prng.di.unimi.it/splitmix64.c).
    struct SplitMix64 {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The generator's parameters; PEFTFixtureTests checks them against the fixture's.
    static let smolR = 16
    static let smolAlpha = 32
    static let smolSeed: UInt64 = 0x5EED_10AA
    static let smolAmplitudeA: Float = 0x1p-4
    static let smolAmplitudeB: Float = 0x1p-5
    /// PEFT's module names, in the order that numbers them for the seed.
    static let smolModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    /// SmolLM2-135M's shapes (the catalog GGUF's metadata): layers, d_model, K/V rows, ffn.
    static let smolLayers = 30, smolHidden = 576, smolKV = 192, smolFFN = 1536

    /// `count` values of the splitmix64 stream starting at `seed`:
    /// (Float(x >> 40) / 2^24 − 0.5) · 2 · amplitude, exact in Float because x >> 40 has 24 bits
    /// and the amplitudes are powers of two.
    static func generatorValues(seed: UInt64, count: Int, amplitude: Float) -> [Float] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in (Float(rng.next() >> 40) / 16_777_216 - 0.5) * 2 * amplitude }
    }

    /// Seed of one tensor: seed + 1000·layer + 10·module + (0 for lora_A, 1 for lora_B).
    static func tensorSeed(layer: Int, module: Int, isB: Bool) -> UInt64 {
        smolSeed + UInt64(1000 * layer + 10 * module + (isB ? 1 : 0))
    }

    /// (in_features, out_features) of projection `module` (index into ``smolModules``).
    static func smolFeatures(module: Int) -> (input: Int, output: Int) {
        switch smolModules[module] {
        case "k_proj", "v_proj": return (smolHidden, smolKV)
        case "gate_proj", "up_proj": return (smolHidden, smolFFN)
        case "down_proj": return (smolFFN, smolHidden)
        default: return (smolHidden, smolHidden)
        }
    }

    /// PEFT's tensor key of one LoRA matrix, e.g.
    /// `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
    static func smolKey(layer: Int, module: Int, isB: Bool) -> String {
        let part = module < 4 ? "self_attn" : "mlp"
        return "base_model.model.model.layers.\(layer).\(part).\(smolModules[module]).lora_\(isB ? "B" : "A").weight"
    }

    /// Writes the deterministic SmolLM2 adapter as a PEFT directory: `adapter_config.json`
    /// (r 16, lora_alpha 32, the seven projections) and `adapter_model.safetensors` (F32,
    /// lora_A [r, in] and lora_B [out, r] per projection and layer, PEFT's keys and shapes, in
    /// HF space: a GGUF base needs its Q/K row permutation applied to q/k lora_B rows).
    /// Creates `directory` if needed. ~20 MB.
    static func writeSmolLM2Adapter(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var writer = SafetensorsWriter()
        writer.metadata["format"] = "pt"
        for layer in 0..<smolLayers {
            for module in smolModules.indices {
                let (n, m) = smolFeatures(module: module)
                for isB in [false, true] {
                    let shape = isB ? [m, smolR] : [smolR, n]
                    let values = generatorValues(seed: tensorSeed(layer: layer, module: module, isB: isB),
                                                 count: shape[0] * shape[1], amplitude: isB ? smolAmplitudeB : smolAmplitudeA)
                    try writer.addTensor(name: smolKey(layer: layer, module: module, isB: isB), dtype: .f32, shape: shape, floats: values)
                }
            }
        }
        try writer.write(to: directory.appendingPathComponent("adapter_model.safetensors").path)
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": smolR, "lora_alpha": smolAlpha,
            "target_modules": smolModules, "bias": "none", "lora_dropout": 0.0, "fan_in_fan_out": false,
            "use_rslora": false, "use_dora": false, "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
        ]
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: directory.appendingPathComponent("adapter_config.json"), options: .atomic)
    }
}
