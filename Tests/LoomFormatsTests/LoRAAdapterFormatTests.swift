import Foundation
import XCTest
@testable import LoomFormats

/// PEFT directories and llama.cpp GGUF LoRA files: written by Loom, read back exactly, Q/K
/// reordering, merging, and every malformed adapter named.
final class LoRAAdapterFormatTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-lora-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func module(rows: Int, columns: Int, rank: Int, scale: Float, seed: UInt64, dora: Bool = false) -> LoRAAdapter.Module {
        var s = seed
        func next() -> Float {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(s >> 40) / Float(1 << 24) - 0.5
        }
        return LoRAAdapter.Module(rank: rank, inputs: columns, outputs: rows, a: (0..<rank * columns).map { _ in next() },
                                  b: (0..<rows * rank).map { _ in next() }, scale: scale,
                                  magnitude: dora ? (0..<rows).map { _ in 1 + next() } : nil)
    }

    /// q (8 rows, 2 heads), k (4 rows, 1 head) and down, with different ranks and scales.
    func sample(space: LoRAAdapter.WeightSpace, uniform: Bool = false) -> LoRAAdapter {
        LoRAAdapter(path: "sample", architecture: "llama", space: space, modules: [
            "blk.0.attn_q.weight": Self.module(rows: 8, columns: 8, rank: 2, scale: 2, seed: 1),
            "blk.0.attn_k.weight": Self.module(rows: 4, columns: 8, rank: 2, scale: 2, seed: 2),
            "blk.1.ffn_down.weight": Self.module(rows: 8, columns: 12, rank: uniform ? 2 : 3, scale: uniform ? 2 : 0.5, seed: 3),
        ])
    }

    func assertSameEffect(_ x: LoRAAdapter, _ y: LoRAAdapter, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(x.modules.keys), Set(y.modules.keys), file: file, line: line)
        for (name, m) in x.modules {
            guard let n = y.modules[name] else { continue }
            XCTAssertEqual(m.rank, n.rank, name, file: file, line: line)
            let d1 = m.delta(), d2 = n.delta()
            let worst = zip(d1, d2).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-5, name, file: file, line: line)
            XCTAssertEqual(m.magnitude, n.magnitude, name, file: file, line: line)
        }
    }

    func testPEFTDirectoryRoundTripsWithPerModuleRanksAndScales() throws {
        let adapter = sample(space: .huggingFace)
        try adapter.writePEFT(to: directory, naming: .llamaFamily)
        let back = try LoRAAdapter.load(path: directory, naming: .llamaFamily)
        XCTAssertEqual(back.space, .huggingFace)
        assertSameEffect(adapter, back)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["r"] as? Int, 2)
        // Layers 0 and 1 adapt different projections: PEFT must be told each module by name.
        XCTAssertEqual(config["target_modules"] as? [String],
                       ["model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"])
        XCTAssertNil(config["layers_to_transform"])
        XCTAssertEqual((config["rank_pattern"] as? [String: Int])?["model.layers.1.mlp.down_proj"], 3)
    }

    /// The same projections in a subset of the layers: names plus `layers_to_transform`, which
    /// is left out when the adapter covers every layer.
    func testPEFTConfigNamesTheAdaptedLayers() throws {
        let adapter = LoRAAdapter(path: "sample", architecture: "llama", space: .huggingFace, modules: [
            "blk.1.attn_q.weight": Self.module(rows: 8, columns: 8, rank: 2, scale: 2, seed: 1),
            "blk.1.attn_k.weight": Self.module(rows: 4, columns: 8, rank: 2, scale: 2, seed: 2),
            "blk.3.attn_q.weight": Self.module(rows: 8, columns: 8, rank: 2, scale: 2, seed: 3),
            "blk.3.attn_k.weight": Self.module(rows: 4, columns: 8, rank: 2, scale: 2, seed: 4),
        ])
        func config(layerCount: Int?) throws -> [String: Any] {
            try adapter.writePEFT(to: directory, naming: .llamaFamily, layerCount: layerCount)
            assertSameEffect(adapter, try LoRAAdapter.load(path: directory, naming: .llamaFamily))
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/adapter_config.json"))) as? [String: Any])
        }
        for layerCount in [4, nil] {
            let c = try config(layerCount: layerCount)
            XCTAssertEqual(c["target_modules"] as? [String], ["k_proj", "q_proj"])
            XCTAssertEqual(c["layers_to_transform"] as? [Int], [1, 3])
        }
        let two = LoRAAdapter(path: "sample", architecture: "llama", space: .huggingFace,
                              modules: adapter.modules.filter { !$0.key.hasPrefix("blk.3") }.reduce(into: [:]) { m, e in
                                  m[e.key.replacingOccurrences(of: "blk.1", with: "blk.0")] = e.value
                              })
        try two.writePEFT(to: directory, naming: .llamaFamily, layerCount: 1)
        let c = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/adapter_config.json"))) as? [String: Any])
        XCTAssertNil(c["layers_to_transform"], "every layer of a one-layer model")
    }

    func testGGUFLoRARoundTripsUniformAndFoldedScales() throws {
        for uniform in [true, false] {
            let adapter = sample(space: .gguf, uniform: uniform)
            let path = directory + "/lora-\(uniform).gguf"
            try adapter.writeGGUF(to: path, architecture: "llama")
            let file = try GGUFFile(path: path)
            XCTAssertEqual(file["general.type"]?.stringValue, "adapter")
            XCTAssertEqual(file["adapter.type"]?.stringValue, "lora")
            XCTAssertEqual(file["adapter.lora.alpha"]?.doubleValue, uniform ? 4 : 0)
            XCTAssertEqual(file.tensor(named: "blk.1.ffn_down.weight.lora_a")?.dimensions, [12, uniform ? 2 : 3])
            XCTAssertEqual(file.tensor(named: "blk.1.ffn_down.weight.lora_b")?.dimensions, [uniform ? 2 : 3, 8])
            let back = try LoRAAdapter.load(path: path, naming: .llamaFamily)
            XCTAssertEqual(back.architecture, "llama")
            assertSameEffect(adapter, back)
        }
        // F16 tensors round to half precision.
        let half = directory + "/half.gguf"
        try sample(space: .gguf).writeGGUF(to: half, architecture: "llama", type: .f16)
        XCTAssertEqual(try GGUFFile(path: half).tensor(named: "blk.0.attn_q.weight.lora_a")?.type, .f16)
    }

    /// HF → GGUF order permutes exactly the Q/K B rows (as llama.cpp's converter permutes the
    /// base's rows); the way back restores them; other architectures are only relabelled.
    func testReorderingPermutesOnlyQKRowsForLlama() {
        let hf = sample(space: .huggingFace)
        let gguf = hf.reordered(to: .gguf, headCount: 2, kvHeadCount: 1, permutesQK: true)
        XCTAssertEqual(gguf.modules["blk.0.attn_q.weight"]!.b, HFTensorNaming.permuteForGGUF(hf.modules["blk.0.attn_q.weight"]!.b, rows: 8, heads: 2))
        XCTAssertEqual(gguf.modules["blk.0.attn_k.weight"]!.b, HFTensorNaming.permuteForGGUF(hf.modules["blk.0.attn_k.weight"]!.b, rows: 4, heads: 1))
        XCTAssertEqual(gguf.modules["blk.1.ffn_down.weight"]!.b, hf.modules["blk.1.ffn_down.weight"]!.b)
        XCTAssertNotEqual(gguf.modules["blk.0.attn_q.weight"]!.b, hf.modules["blk.0.attn_q.weight"]!.b)
        assertSameEffect(gguf.reordered(to: .huggingFace, headCount: 2, kvHeadCount: 1, permutesQK: true), hf)
        let qwen = hf.reordered(to: .gguf, headCount: 2, kvHeadCount: 1, permutesQK: false)
        XCTAssertEqual(qwen.space, .gguf)
        XCTAssertEqual(qwen.modules["blk.0.attn_q.weight"]!.b, hf.modules["blk.0.attn_q.weight"]!.b)
    }

    /// export-lora's merge: adapted tensors become W + scale·s·B·A, the rest are copied.
    func testMergerAddsTheScaledProductAndCopiesTheRest() throws {
        var w = GGUFWriter()
        w.setMetadata("general.architecture", .string("llama"))
        let q = (0..<64).map { Float($0) / 64 }, other = (0..<16).map { Float($0) }
        try w.addTensor(name: "blk.0.attn_q.weight", type: .f32, dimensions: [8, 8], data: q.withUnsafeBytes { Array($0) })
        try w.addTensor(name: "blk.0.attn_norm.weight", type: .f32, dimensions: [16], data: other.withUnsafeBytes { Array($0) })
        let basePath = directory + "/base.gguf", outPath = directory + "/merged.gguf"
        try w.write(to: basePath)
        let module = Self.module(rows: 8, columns: 8, rank: 2, scale: 2, seed: 9)
        let adapter = LoRAAdapter(path: "a", architecture: "llama", space: .gguf, modules: ["blk.0.attn_q.weight": module])
        let summary = try LoRAMerger(mergedType: .f32).merge(base: GGUFFile(path: basePath), adapters: [(adapter, 0.5)], output: outPath)
        XCTAssertEqual(summary.mergedTensors, ["blk.0.attn_q.weight"])
        XCTAssertFalse(summary.baseWasQuantized)
        let merged = try GGUFFile(path: outPath)
        let values = GGUFLoRAReader.floatsOf(merged, merged.tensor(named: "blk.0.attn_q.weight")!)
        let expected = zip(q, module.delta()).map { $0 + 0.5 * $1 }
        XCTAssertLessThan(zip(values, expected).map { abs($0 - $1) }.max()!, 1e-6)
        XCTAssertEqual(GGUFLoRAReader.floatsOf(merged, merged.tensor(named: "blk.0.attn_norm.weight")!), other)
        XCTAssertEqual(merged["general.architecture"]?.stringValue, "llama")
        // An adapter whose shape differs from the base tensor names both.
        let wrong = LoRAAdapter(path: "a", architecture: "llama", space: .gguf,
                                modules: ["blk.0.attn_q.weight": Self.module(rows: 4, columns: 8, rank: 2, scale: 1, seed: 1)])
        XCTAssertThrowsError(try LoRAMerger().merge(base: GGUFFile(path: basePath), adapters: [(wrong, 1)], output: outPath)) {
            XCTAssertTrue("\($0)".contains("B·A is [4 × 8] but the base tensor is [8 × 8]"), "\($0)")
        }
    }

    /// Trained norms (PEFT `modules_to_save`): a merge writes the adapter's weight in place of
    /// the base norm (F32, whatever the adapter's scale); a PEFT directory stores them under
    /// their module keys and reads back; the GGUF LoRA refuses them; a size that differs from
    /// the base is named.
    func testNormsAreMergedRoundTripAndRefusedByGGUFLoRA() throws {
        var w = GGUFWriter()
        w.setMetadata("general.architecture", .string("llama"))
        let q = (0..<64).map { Float($0) / 64 }, norm = (0..<8).map { Float($0) }
        try w.addTensor(name: "blk.0.attn_q.weight", type: .f32, dimensions: [8, 8], data: q.withUnsafeBytes { Array($0) })
        try w.addTensor(name: "blk.0.attn_norm.weight", type: .f32, dimensions: [8], data: norm.withUnsafeBytes { Array($0) })
        try w.addTensor(name: "output_norm.weight", type: .f32, dimensions: [8], data: norm.withUnsafeBytes { Array($0) })
        let basePath = directory + "/base.gguf", outPath = directory + "/merged.gguf"
        try w.write(to: basePath)
        let trained = (0..<8).map { 1 + Float($0) / 16 }
        let adapter = LoRAAdapter(path: "a", architecture: "llama", space: .gguf,
                                  modules: ["blk.0.attn_q.weight": Self.module(rows: 8, columns: 8, rank: 2, scale: 2, seed: 9)],
                                  norms: ["blk.0.attn_norm.weight": trained])
        let summary = try LoRAMerger(mergedType: .f32).merge(base: GGUFFile(path: basePath), adapters: [(adapter, 0.5)], output: outPath)
        XCTAssertEqual(Set(summary.mergedTensors), ["blk.0.attn_q.weight", "blk.0.attn_norm.weight"])
        let merged = try GGUFFile(path: outPath)
        XCTAssertEqual(GGUFLoRAReader.floatsOf(merged, merged.tensor(named: "blk.0.attn_norm.weight")!), trained)
        XCTAssertEqual(GGUFLoRAReader.floatsOf(merged, merged.tensor(named: "output_norm.weight")!), norm)

        let hf = adapter.reordered(to: .huggingFace, headCount: 2, kvHeadCount: 1, permutesQK: true)
        XCTAssertEqual(hf.norms, adapter.norms)
        let dir = directory + "/peft"
        try hf.writePEFT(to: dir, naming: .llamaFamily, layerCount: 1)
        let back = try LoRAAdapter.load(path: dir, naming: .llamaFamily)
        XCTAssertEqual(back.norms, adapter.norms)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["modules_to_save"] as? [String], ["model.layers.0.input_layernorm"])
        XCTAssertTrue(try SafetensorsFile(path: dir + "/adapter_model.safetensors").tensors.contains { $0.name == "base_model.model.model.layers.0.input_layernorm.weight" })

        XCTAssertThrowsError(try adapter.writeGGUF(to: directory + "/a.gguf", architecture: "llama")) {
            XCTAssertEqual(($0 as? LoRAAdapterError)?.field, "modules_to_save", "\($0)")
        }
        let wrong = LoRAAdapter(path: "a", architecture: "llama", space: .gguf, modules: [:], norms: ["output_norm.weight": [1, 2]])
        XCTAssertThrowsError(try LoRAMerger().merge(base: GGUFFile(path: basePath), adapters: [(wrong, 1)], output: outPath)) {
            XCTAssertTrue("\($0)".contains("the saved norm has 2 values but the base tensor is [8]"), "\($0)")
        }
    }

    /// Writes a PEFT directory from `config` and tensors `(key, shape)`; returns its path.
    func peft(_ config: String, _ tensors: [(String, [Int])], pickle: Bool = false) throws -> String {
        let dir = directory + "/peft-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/adapter_config.json"))
        if pickle {
            try Data([0x80, 0x02]).write(to: URL(fileURLWithPath: dir + "/adapter_model.bin"))
            return dir
        }
        var writer = SafetensorsWriter()
        for (key, shape) in tensors {
            try writer.addTensor(name: key, dtype: .f32, shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *)))
        }
        try writer.write(to: dir + "/adapter_model.safetensors")
        return dir
    }

    func testMalformedAdaptersAreNamedErrors() throws {
        let q = "base_model.model.model.layers.0.self_attn.q_proj"
        let good: [(String, [Int])] = [(q + ".lora_A.weight", [2, 8]), (q + ".lora_B.weight", [8, 2])]
        XCTAssertNoThrow(try LoRAAdapter.load(path: try peft(#"{"r": 2, "lora_alpha": 4}"#, good), naming: .llamaFamily))
        let cases: [(String, [(String, [Int])], Bool, String)] = [
            (#"{"r": 2, "lora_alpha": 4, "bias": "all"}"#, good, false, "only \"none\" is supported"),
            (#"{"r": 2}"#, good, false, "lora_alpha: is missing"),
            (#"{"r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "c_attn"]}"#, good, false, "unknown target module 'c_attn'"),
            (#"{"r": 2, "lora_alpha": 4}"#, [], true, "save the adapter as safetensors"),
            (#"{"r": 2, "lora_alpha": 4}"#, [(q + ".lora_A.weight", [2, 8]), (q + ".lora_B.weight", [8, 3])], false, "rank mismatch"),
            (#"{"r": 4, "lora_alpha": 4}"#, good, false, "rank 2 in the tensors but the config says r = 4"),
            (#"{"r": 2, "lora_alpha": 4, "use_dora": true}"#, good, false, "lora_magnitude_vector is missing"),
            (#"{"r": 2, "lora_alpha": 4, "peft_type": "IA3"}"#, good, false, "not a LoRA adapter"),
            (#"{"r": 2, "lora_alpha": 4, "modules_to_save": ["lm_head"]}"#, good, false, "modules_to_save"),
            (#"{"r": 2, "lora_alpha": 4"#, good, false, "invalid JSON at line 1"),
            (#"{"r": 2, "lora_alpha": 4}"#, [(q + ".lora_A.weight", [2, 8])], false, "needs both lora_A and lora_B"),
            (#"{"r": 2, "lora_alpha": 4}"#, [("base_model.model.model.layers.0.self_attn.c_attn.lora_A.weight", [2, 8]),
                                            ("base_model.model.model.layers.0.self_attn.c_attn.lora_B.weight", [8, 2])], false,
             "targets a module the base architecture does not have"),
        ]
        for (config, tensors, pickle, expected) in cases {
            let dir = try peft(config, tensors, pickle: pickle)
            XCTAssertThrowsError(try LoRAAdapter.load(path: dir, naming: .llamaFamily), config) {
                XCTAssertTrue("\($0)".contains(expected), "\(config): \($0)")
            }
        }
        // A base model is not an adapter.
        var w = GGUFWriter()
        w.setMetadata("general.architecture", .string("llama"))
        try w.write(to: directory + "/model.gguf")
        XCTAssertThrowsError(try LoRAAdapter.load(path: directory + "/model.gguf", naming: .llamaFamily)) {
            XCTAssertTrue("\($0)".contains("not a LoRA adapter file"), "\($0)")
        }
        XCTAssertThrowsError(try LoRAAdapter.load(path: directory + "/absent", naming: .llamaFamily)) {
            XCTAssertTrue("\($0)".contains("no such file"), "\($0)")
        }
    }
}
