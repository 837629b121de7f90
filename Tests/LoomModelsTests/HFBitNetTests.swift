import Foundation
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// HF BitNet checkpoints (`quantization_config.quant_method: "bitnet"`), against transformers on
/// tiny random checkpoints packed by its own integration (scripts/gen_hf_bitnet_fixtures.py):
/// the packing order and `weight_scale` direction pinned on one BitLinear, the Llama3-8B-1.58
/// format's and BitNet b1.58's logits, their GGUF conversions (F32, and lossless TQ1_0/TQ2_0),
/// and every bad-input case by name.
final class HFBitNetTests: XCTestCase {
    static let tolerance = 1e-3

    /// `reference_logits.json`'s one-module example (transformers' BitLinear on known values).
    struct Example: Decodable {
        let ternary: [[Int]]
        let packed: [[Int]]
        let weight_scale: Float
        let inputs: [[Float]]
        let outputs: [[Float]]
    }
    struct ExampleFile: Decodable { let bitlinear_example: Example }

    static let loaded = Result { try TransformersLogitsFixture.load("hf_bitnet") }

    func example() throws -> Example {
        let root = try Self.loaded.get().root
        return try JSONDecoder().decode(ExampleFile.self, from: Data(contentsOf: root.appendingPathComponent("reference_logits.json"))).bitlinear_example
    }

    /// transformers' `pack_weights` order (row k·R + p in bits 2k of byte row p) and
    /// BitLinear's arithmetic: per-token absmax int8 (half-to-even, the 1e-5 floor — the second
    /// input is below it), output divided by weight_scale.
    func testPackingOrderAndScaleDirectionMatchTransformersBitLinear() throws {
        let e = try example()
        let rows = e.ternary.count, columns = e.ternary[0].count
        let bytes = e.packed.flatMap { $0.map(UInt8.init) }
        XCTAssertEqual(bytes.count, rows / 4 * columns)
        try bytes.withUnsafeBytes { raw in
            let base = try XCTUnwrap(raw.baseAddress)
            let w = BitLinearMatrix(rows: rows, columns: columns, base: base, weightScale: e.weight_scale, scaleUse: .divide)
            for r in 0..<rows {
                for c in 0..<columns { XCTAssertEqual(w.value(row: r, column: c), e.ternary[r][c], "row \(r) column \(c)") }
            }
            let input = e.inputs.flatMap { $0 }
            var output = [Float](repeating: .nan, count: e.inputs.count * rows)
            BitLinearKernel.multiply(w, input, tokens: e.inputs.count, into: &output, bias: nil, pool: ThreadPool(threadCount: 2))
            for (t, expected) in e.outputs.enumerated() {
                for r in 0..<rows {
                    XCTAssertEqual(output[t * rows + r], expected[r], accuracy: 1e-6 * max(1, abs(expected[r])) + 1e-12, "token \(t) row \(r)")
                }
            }
            // The other direction (AutoBitLinear's) would be 16× off here: the test can tell them apart.
            let multiplied = BitLinearMatrix(rows: rows, columns: columns, base: base, weightScale: e.weight_scale, scaleUse: .multiply)
            var other = [Float](repeating: 0, count: rows)
            BitLinearKernel.multiply(multiplied, input, tokens: 1, into: &other, bias: nil, pool: ThreadPool(threadCount: 1))
            XCTAssertEqual(other[0], e.outputs[0][0] * 16, accuracy: 1e-5)
        }
    }

    /// The SIMD path (32 columns at a time, 16-bit partial sums widened every 32 chunks) equals
    /// a plain per-element sum on long rows with extreme activations.
    func testKernelMatchesScalarDefinitionOnLongRows() throws {
        var rng = SystemRandomNumberGenerator()
        for columns in [32, 1056, 2048 + 7] {
            let rows = 8
            let bytes = (0..<rows / 4 * columns).map { _ in UInt8.random(in: 0...255, using: &rng) & 0b1010_1010 | 0b0101_0101 & UInt8.random(in: 0...255, using: &rng) }
            // Avoid the unused code 3 (the format never stores it).
            let clean = bytes.map { b -> UInt8 in
                var v: UInt8 = 0
                for k in 0..<4 { v |= min(2, (b >> (2 * k)) & 3) << (2 * k) }
                return v
            }
            let x = (0..<2 * columns).map { i in i % 5 == 0 ? Float(-3) : Float.random(in: -3...3, using: &rng) }
            try clean.withUnsafeBytes { raw in
                let w = BitLinearMatrix(rows: rows, columns: columns, base: try XCTUnwrap(raw.baseAddress), weightScale: 0.5, scaleUse: .divide)
                var out = [Float](repeating: 0, count: 2 * rows)
                BitLinearKernel.multiply(w, x, tokens: 2, into: &out, bias: nil, pool: ThreadPool(threadCount: 2))
                for t in 0..<2 {
                    var codes = [Int8](repeating: 0, count: columns)
                    let (scale, _) = x.withUnsafeBufferPointer { BitLinearKernel.quantize($0.baseAddress! + t * columns, count: columns, into: &codes) }
                    for c in 0..<columns where (t * columns + c) % 5 == 0 { XCTAssertEqual(codes[c], -127, "the absmax element maps to -127") }
                    for r in 0..<rows {
                        var sum = 0
                        for c in 0..<columns { sum += w.value(row: r, column: c) * Int(codes[c]) }
                        XCTAssertEqual(out[t * rows + r], Float(sum) / (scale * 0.5), accuracy: 1e-4 * max(1, abs(Float(sum) / scale)), "columns \(columns) token \(t) row \(r)")
                    }
                }
            }
        }
    }

    /// The Llama3-8B-1.58 format (LlamaForCausalLM + BitLinear): prompt and decode logits.
    func testLlamaBitLinearCheckpointMatchesTransformers() throws {
        let (root, fixture) = try Self.loaded.get()
        let model = try LanguageModel(path: root.appendingPathComponent("llama_bitnet").path)
        XCTAssertEqual(model.config.architecture, .llama)
        let layer = try XCTUnwrap(model.weights.layers.first)
        XCTAssertTrue(layer.projections.allSatisfy { $0.bitLinear?.scaleUse == .divide }, "every layer linear is packed")
        XCTAssertNil(model.weights.output.bitLinear, "lm_head stays float")
        // Used in place: the packed bytes are the mapped file's.
        let checkpoint = try XCTUnwrap(model.checkpoint)
        let (file, info) = try XCTUnwrap(checkpoint.tensor(named: "model.layers.0.self_attn.q_proj.weight"))
        XCTAssertEqual(UnsafeRawPointer(try XCTUnwrap(layer.query.bitLinear).base), file.data(info).baseAddress)
        let worst = try fixture.worstDifference(model, "llama_bitnet", decodeToo: true)
        print("llama_bitnet: max |Δ logit| vs transformers \(fixture.transformers): \(worst)")
        XCTAssertLessThanOrEqual(worst, Self.tolerance)
    }

    /// BitNet b1.58 (BitNetForCausalLM + AutoBitLinear): sub-layer norms, relu² gate, and
    /// weight_scale multiplied in. Dropping the sub-norms must move the logits far, so the
    /// fixture exercises them.
    func testBitNetArchitectureMatchesTransformers() throws {
        let (root, fixture) = try Self.loaded.get()
        let model = try LanguageModel(path: root.appendingPathComponent("bitnet").path)
        XCTAssertEqual(model.config.architecture, .bitnet)
        let layer = try XCTUnwrap(model.weights.layers.first)
        XCTAssertTrue(layer.projections.allSatisfy { $0.bitLinear?.scaleUse == .multiply })
        XCTAssertEqual(layer.attentionSubNorm?.count, model.config.headCount * model.config.headDim)
        XCTAssertEqual(layer.feedForwardSubNorm?.count, model.config.feedForwardSize)
        let worst = try fixture.worstDifference(model, "bitnet", decodeToo: true)
        print("bitnet: max |Δ logit| vs transformers \(fixture.transformers): \(worst)")
        XCTAssertLessThanOrEqual(worst, Self.tolerance)

        model.updateProjections { w in
            for i in w.layers.indices { w.layers[i].attentionSubNorm = nil; w.layers[i].feedForwardSubNorm = nil }
        }
        let without = try fixture.worstDifference(model, "bitnet")
        XCTAssertGreaterThan(without, 0.1, "the sub-layer norms do not change these logits; the fixture would not test them")
    }

    func testBitNetNamesAndRefusals() throws {
        XCTAssertEqual(Architecture.bitnet.tensorNames.ggufName(forHF: "model.layers.3.self_attn.attn_sub_norm.weight"), "blk.3.attn_sub_norm.weight")
        XCTAssertEqual(Architecture.bitnet.tensorNames.ggufName(forHF: "model.layers.0.mlp.ffn_sub_norm.weight"), "blk.0.ffn_sub_norm.weight")
        XCTAssertEqual(try ArchitectureRegistry.gguf("bitnet", path: "b.gguf"), .bitnet)
        assertLoadFails(try brokenCopy("bitnet", config: { $0["hidden_act"] = "silu" }), mentions: ["hidden_act", "relu2"])
        let missing = try brokenCopy("bitnet", tensors: { name, _, _ in name == "model.layers.1.mlp.ffn_sub_norm.weight" ? .some(nil) : nil })
        assertLoadFails(missing, mentions: ["blk.1.ffn_sub_norm.weight"])
    }

    // MARK: GGUF

    /// `loom convert` of both checkpoints to F32 GGUF (ternary × scale, as llama.cpp's
    /// converter writes them): llama stays `llama` (Q/K permuted), BitNet becomes arch `bitnet`
    /// (NEOX pairs, tied head, `bitnet.hidden_activation` relu2). Without BitLinear's int8
    /// activations the GGUF computes the float network, so its reference is transformers on the
    /// same ternary × scale weights in float (`<name>_float`).
    func testGGUFConversionsMatchTheFloatReference() throws {
        let (root, fixture) = try Self.loaded.get()
        for (name, arch) in [("llama_bitnet", Architecture.llama), ("bitnet", .bitnet)] {
            let gguf = FileManager.default.temporaryDirectory.appendingPathComponent("loom-\(name)-\(UUID().uuidString).gguf").path
            defer { try? FileManager.default.removeItem(atPath: gguf) }
            try HFToGGUFConverter(outputType: .f32).convert(directory: root.appendingPathComponent(name).path, output: gguf)
            let model = try LanguageModel(path: gguf)
            XCTAssertEqual(model.config.architecture, arch)
            XCTAssertEqual(model.config.ropeLayout, arch == .llama ? .adjacent : .halfSplit)
            XCTAssertEqual(model.config.feedForwardActivation, arch == .llama ? .silu : .squaredReLU)
            let file = try XCTUnwrap(model.file)
            if arch == .bitnet {
                XCTAssertNil(file.tensor(named: "output.weight"), "llama.cpp's bitnet graph always uses token_embd as the head")
                XCTAssertEqual(file["bitnet.hidden_activation"]?.stringValue, "relu2")
                XCTAssertNotNil(file.tensor(named: "blk.1.attn_sub_norm.weight"))
            }
            let worst = try fixture.worstDifference(model, name + "_float", decodeToo: true)
            print("\(name) → GGUF F32: max |Δ logit| vs transformers float ternary weights: \(worst)")
            XCTAssertLessThanOrEqual(worst, Self.tolerance, name)
        }
    }

    /// `loom convert` to TQ1_0 / TQ2_0 keeps every ternary weight: on a BitNet checkpoint with
    /// 256-wide rows (whole TQ blocks) and scales that F16 holds exactly (TQ blocks store their
    /// scale as F16), each dequantised GGUF row equals the packed row × scale bit for bit.
    func testTernaryConversionIsLossless() throws {
        let directory = try syntheticBitNet(hidden: 256, ffn: 512)
        let hf = try LanguageModel(path: directory)
        for type in [GGMLType.tq1_0, .tq2_0] {
            let gguf = directory + ".\(type).gguf"
            defer { try? FileManager.default.removeItem(atPath: gguf) }
            try HFToGGUFConverter(outputType: type).convert(directory: directory, output: gguf)
            let converted = try LanguageModel(path: gguf)
            for (a, b) in zip(hf.weights.layers, converted.weights.layers) {
                for (packed, stored) in zip(a.projections, b.projections) {
                    let w = try XCTUnwrap(packed.bitLinear)
                    XCTAssertEqual(stored.weight.type, type)
                    var x = [Float](repeating: 0, count: w.columns), y = x
                    for r in 0..<w.rows {
                        w.dequantizeRow(r, into: &x)
                        stored.weight.dequantizeRow(r, into: &y)
                        XCTAssertEqual(x, y, "\(type) row \(r)")
                        if x != y { return }
                    }
                }
            }
            let logits = try converted.makeSession(contextLength: 16, cacheTypes: .f32).evaluate([3, 4, 5])
            XCTAssertTrue(logits.allSatisfy(\.isFinite))
        }
        XCTAssertThrowsError(try HFToGGUFConverter(outputType: .tq2_0).convert(
            directory: try TransformersLogitsFixture.load("hf_arch").root.appendingPathComponent("mistral").path, output: directory + ".x.gguf")) {
            XCTAssertTrue("\($0)".contains("needs an HF BitNet checkpoint"), "\($0)")
        }
    }

    /// A one-layer BitNetForCausalLM checkpoint (AutoBitLinear, tied) with the fixture's
    /// tokenizer, random packed codes and F16-exact scales, written with Loom's safetensors writer.
    func syntheticBitNet(hidden: Int, ffn: Int) throws -> String {
        let heads = 4, kvHeads = 2, headDim = hidden / heads, vocab = 300
        let path = try brokenCopy("bitnet", config: { c in
            c["hidden_size"] = hidden; c["intermediate_size"] = ffn; c["num_hidden_layers"] = 1
            c["num_attention_heads"] = heads; c["num_key_value_heads"] = kvHeads
        }, tensors: { _, _, _ in .some(nil) })
        var rng = PEFTFixture.SplitMix64(state: 7)
        func uniform(_ g: inout PEFTFixture.SplitMix64) -> Float { Float(g.next() >> 40) / Float(1 << 24) }
        var writer = SafetensorsWriter()
        func floats(_ name: String, _ shape: [Int], _ f: () -> Float) throws {
            try writer.addTensor(name: name, dtype: .f32, shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in f() })
        }
        try floats("model.embed_tokens.weight", [vocab, hidden]) { uniform(&rng) * 2 - 1 }
        try floats("model.norm.weight", [hidden]) { 1 }
        let p = "model.layers.0."
        for norm in ["input_layernorm", "post_attention_layernorm", "self_attn.attn_sub_norm"] {
            try floats(p + norm + ".weight", [hidden]) { 1 + uniform(&rng) * 0.2 }
        }
        try floats(p + "mlp.ffn_sub_norm.weight", [ffn]) { 1 + uniform(&rng) * 0.2 }
        let shapes = [("self_attn.q_proj", heads * headDim, hidden), ("self_attn.k_proj", kvHeads * headDim, hidden),
                      ("self_attn.v_proj", kvHeads * headDim, hidden), ("self_attn.o_proj", hidden, heads * headDim),
                      ("mlp.gate_proj", ffn, hidden), ("mlp.up_proj", ffn, hidden), ("mlp.down_proj", hidden, ffn)]
        for (i, (name, rows, columns)) in shapes.enumerated() {
            let bytes = (0..<rows / 4 * columns).map { _ in
                (0..<4).reduce(UInt8(0)) { v, k in v | UInt8(rng.next() % 3) << UInt8(2 * k) }
            }
            try writer.addTensor(name: p + name + ".weight", dtype: .u8, shape: [rows / 4, columns], data: bytes)
            try writer.addTensor(name: p + name + ".weight_scale", dtype: .f32, shape: [1], floats: [Float(i + 1) * 0.0625])
        }
        let weights = (path as NSString).appendingPathComponent("model.safetensors")
        try FileManager.default.removeItem(atPath: weights)
        try writer.write(to: weights)
        return path
    }

    // MARK: Bad input

    /// A copy of the fixture directory with `config.json` edited and tensors replaced or removed.
    func brokenCopy(_ name: String, config edit: (inout [String: Any]) -> Void = { _ in },
                    tensors change: (String, SafetensorsTensorInfo, [UInt8]) -> (shape: [Int], data: [UInt8])?? = { _, _, _ in nil }) throws -> String {
        let source = try Self.loaded.get().root.appendingPathComponent(name)
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("loom-bitnet-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: target)
        addTeardownBlock { try? FileManager.default.removeItem(at: target) }
        let configURL = target.appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let weights = target.appendingPathComponent("model.safetensors").path
        let file = try SafetensorsFile(path: weights)
        var writer = SafetensorsWriter()
        for info in file.tensors {
            let bytes = [UInt8](file.data(info))
            switch change(info.name, info, bytes) {
            case .none: try writer.addTensor(name: info.name, dtype: info.dtype, shape: info.shape, data: bytes)
            case .some(.none): continue
            case .some(.some(let replaced)): try writer.addTensor(name: info.name, dtype: info.dtype, shape: replaced.shape, data: replaced.data)
            }
        }
        try writer.write(to: weights + ".new")
        try FileManager.default.removeItem(atPath: weights)
        try FileManager.default.moveItem(atPath: weights + ".new", toPath: weights)
        return target.path
    }

    func assertLoadFails(_ path: String, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LanguageModel(path: path), file: file, line: line) { error in
            for part in parts { XCTAssertTrue("\(error)".contains(part), "'\(error)' does not mention '\(part)'", file: file, line: line) }
        }
    }

    func quantization(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
        { config in
            var q = config["quantization_config"] as? [String: Any] ?? [:]
            q[key] = value
            config["quantization_config"] = q
        }
    }

    func testUnknownLinearClassAndModesAreNamed() throws {
        assertLoadFails(try brokenCopy("llama_bitnet", config: quantization("linear_class", "ternarylinear")),
                        mentions: ["quantization_config.linear_class", "ternarylinear"])
        assertLoadFails(try brokenCopy("llama_bitnet", config: quantization("quantization_mode", "online")),
                        mentions: ["quantization_config.quantization_mode", "online"])
        assertLoadFails(try brokenCopy("llama_bitnet", config: quantization("quant_method", "gptq")),
                        mentions: ["quantization_config.quant_method", "gptq"])
        assertLoadFails(try brokenCopy("llama_bitnet", config: quantization("use_rms_norm", true)),
                        mentions: ["quantization_config.use_rms_norm"])
    }

    func testPackedSizeNotMatchingTheConfigIsNamed() throws {
        // intermediate_size 132: gate_proj should be [33, 64] bytes; the file has [32, 64].
        let path = try brokenCopy("llama_bitnet", config: { $0["intermediate_size"] = 132 })
        assertLoadFails(path, mentions: ["model.layers.0.mlp.gate_proj.weight", "[33, 64]", "[32, 64]"])
        // A packed tensor cut short.
        let short = try brokenCopy("llama_bitnet", tensors: { name, info, bytes in
            name == "model.layers.1.self_attn.k_proj.weight" ? .some((shape: [info.shape[0] - 1, info.shape[1]], data: Array(bytes.dropLast(info.shape[1])))) : nil
        })
        assertLoadFails(short, mentions: ["model.layers.1.self_attn.k_proj.weight", "packed BitNet"])
        // Rows that cannot be packed 4 to a byte.
        let odd = try brokenCopy("llama_bitnet", config: { $0["intermediate_size"] = 130 })
        assertLoadFails(odd, mentions: ["model.layers.0.mlp.gate_proj.weight", "not a multiple of 4"])
    }

    func testMissingOrMisshapenWeightScaleIsNamed() throws {
        let missing = try brokenCopy("llama_bitnet", tensors: { name, _, _ in
            name == "model.layers.0.self_attn.v_proj.weight_scale" ? .some(nil) : nil
        })
        assertLoadFails(missing, mentions: ["model.layers.0.self_attn.v_proj.weight_scale", "missing"])
        let wide = try brokenCopy("llama_bitnet", tensors: { name, _, bytes in
            name == "model.layers.0.mlp.up_proj.weight_scale" ? .some((shape: [2], data: bytes + bytes)) : nil
        })
        assertLoadFails(wide, mentions: ["model.layers.0.mlp.up_proj.weight_scale", "[2]"])
        let zero = try brokenCopy("llama_bitnet", tensors: { name, _, bytes in
            name == "model.layers.1.mlp.down_proj.weight_scale" ? .some((shape: [1], data: [0, 0, 0, 0])) : nil
        })
        assertLoadFails(zero, mentions: ["model.layers.1.mlp.down_proj.weight_scale", "positive"])
    }

    /// The 2-bit code 3 is not a ternary value: converting refuses it with the count and
    /// writes nothing.
    func testConvertingNonTernaryCodesIsRefusedWithACount() throws {
        let path = try brokenCopy("llama_bitnet", tensors: { name, info, bytes in
            guard name == "model.layers.0.mlp.up_proj.weight" else { return nil }
            var b = bytes
            b[0] = 0xFF; b[1] = 0b11_00_00_01
            return .some((shape: info.shape, data: b))
        })
        let output = path + ".gguf"
        XCTAssertThrowsError(try HFToGGUFConverter(outputType: .f32).convert(directory: path, output: output)) {
            XCTAssertTrue("\($0)".contains("model.layers.0.mlp.up_proj.weight") && "\($0)".contains("5 of 8192 packed values are not ternary"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    func testLoRAOnPackedProjectionsIsRefused() throws {
        let model = try LanguageModel(path: try Self.loaded.get().root.appendingPathComponent("llama_bitnet").path)
        let module = LoRAAdapter.Module(rank: 1, inputs: 64, outputs: 64, a: [Float](repeating: 0.1, count: 64), b: [Float](repeating: 0.1, count: 64), scale: 1)
        let adapter = LoRAAdapter(path: "x", architecture: nil, space: .huggingFace, modules: ["blk.0.attn_q.weight": module])
        XCTAssertThrowsError(try model.attachLoRA(adapter)) { XCTAssertTrue("\($0)".contains("BitNet"), "\($0)") }
    }
}

