import Foundation
import XCTest
import LoomKernels
@testable import LoomFormats

/// GGUFQuantizer and TensorTypeChooser: type choice against a Q4_K_M file made by llama.cpp,
/// block contents against the row quantiser (itself checked against gguf-py / ggml), the
/// fallback and keep rules, requantisation refusal.
final class GGUFQuantizerTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-quantize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The Qwen2.5-Coder-0.5B GGUF was made by llama-quantize as Q4_K_M (general.file_type 15)
    /// from unquantised weights, by a release that visited tensors in file order: our chooser
    /// in that order must reproduce every tensor's type, including the Q4_K → Q5_0 and
    /// Q6_K → Q8_0 fallbacks for its 896-wide rows and the use_more_bits layers.
    func testChooserReproducesLlamaCppQ4_K_MFile() throws {
        let file = try GGUFFile(path: try TestModels.path(TestModels.qwenCoder))
        XCTAssertEqual(file["general.file_type"]?.intValue, 15)
        var quantizer = GGUFQuantizer(fileType: .mostlyQ4_K_M)
        quantizer.counterOrder = .file
        // Quantisable tensors are presented as F32 (their type before llama-quantize).
        let plan = quantizer.chooser(for: file).chooseTypes(for: file.tensors.map { ($0.name, $0.dimensions, GGMLType.f32) })
        var mismatches: [String] = []
        for t in file.tensors where plan[t.name] != t.type {
            mismatches.append("\(t.name): chose \(plan[t.name]!), llama.cpp wrote \(t.type)")
        }
        XCTAssertEqual(mismatches, [], mismatches.prefix(10).joined(separator: "\n"))
        XCTAssertEqual(Set(plan.values), [.f32, .q5_0, .q8_0, .q6_K, .q4_K])

        // Current llama.cpp (layer order): the more-bits layers are 0-2, 5, 8, …, 20, 21-23 of 24.
        quantizer.counterOrder = .loader
        let current = quantizer.chooser(for: file).chooseTypes(for: file.tensors.map { ($0.name, $0.dimensions, GGMLType.f32) })
        let q6Layers = (0..<24).filter { current["blk.\($0).ffn_down.weight"] == .q6_K }
        XCTAssertEqual(q6Layers, [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23])
    }

    func testUseMoreBitsAndMixRules() {
        // llama.cpp: i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2; for 32 layers: 0-3, 6, 9, …, 28-31.
        let more = (0..<32).filter { TensorTypeChooser.useMoreBits($0, 32) }
        XCTAssertEqual(more, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        XCTAssertEqual(TensorTypeChooser.fallback(.q4_K, rowLength: 896), .q5_0)
        XCTAssertEqual(TensorTypeChooser.fallback(.q6_K, rowLength: 576), .q8_0)
        XCTAssertEqual(TensorTypeChooser.fallback(.q5_K, rowLength: 576), .q5_1)
        XCTAssertEqual(TensorTypeChooser.fallback(.q3_K, rowLength: 96), .q4_0)
        XCTAssertEqual(TensorTypeChooser.fallback(.q4_K, rowLength: 48), .f16)
        XCTAssertEqual(TensorTypeChooser.fallback(.q8_0, rowLength: 40), .f16)
        XCTAssertEqual(TensorTypeChooser.fallback(.q4_K, rowLength: 512), .q4_K)
        XCTAssertEqual(QuantizationFileType(name: "q4_k"), .mostlyQ4_K_M)
        XCTAssertEqual(QuantizationFileType(name: "Q8_0"), .mostlyQ8_0)
        XCTAssertNil(QuantizationFileType(name: "Q7_0"))
    }

    /// A small synthetic llama model in F32/F16: every quantised tensor's blocks must equal
    /// RowQuantizer applied to its (dequantised) rows; norms stay F32; output gets Q6_K; the
    /// metadata is copied with file_type set.
    func writeSyntheticModel(_ path: String, embedding: Int = 256, ffn: Int = 512, layers: Int = 2, tied: Bool = false) throws -> [String: [Float]] {
        var rng = SystemRandomNumberGenerator()
        var writer = GGUFWriter()
        writer.setMetadata("general.architecture", .string("llama"))
        writer.setMetadata("general.name", .string("synthetic"))
        writer.setMetadata("llama.block_count", .uint32(UInt32(layers)))
        writer.setMetadata("llama.attention.head_count", .uint32(4))
        writer.setMetadata("llama.attention.head_count_kv", .uint32(2))
        writer.setMetadata("tokenizer.ggml.merges", emptyArrayOf: .string)
        var values: [String: [Float]] = [:]
        func add(_ name: String, _ dims: [Int], _ type: GGMLType) throws {
            let n = dims.reduce(1, *)
            var v = (0..<n).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
            v = RowKernelsRoundTrip.roundTrip(type, v)
            values[name] = v
            try writer.addTensor(name: name, type: type, dimensions: dims, data: RowQuantizer.quantize(type, v))
        }
        try add("token_embd.weight", [embedding, 64], .f16)
        for l in 0..<layers {
            try add("blk.\(l).attn_norm.weight", [embedding], .f32)
            try add("blk.\(l).attn_q.weight", [embedding, embedding], .f32)
            try add("blk.\(l).attn_k.weight", [embedding, embedding / 2], .f16)
            try add("blk.\(l).attn_v.weight", [embedding, embedding / 2], .f32)
            try add("blk.\(l).attn_output.weight", [embedding, embedding], .bf16)
            try add("blk.\(l).ffn_gate.weight", [embedding, ffn], .f32)
            try add("blk.\(l).ffn_up.weight", [embedding, ffn], .f32)
            try add("blk.\(l).ffn_down.weight", [ffn, embedding], .f32)
        }
        try add("output_norm.weight", [embedding], .f32)
        if !tied { try add("output.weight", [embedding, 64], .f32) }
        try writer.write(to: path)
        return values
    }

    func testQuantizedBlocksEqualRowQuantizer() throws {
        let input = directory + "/in.gguf", output = directory + "/out.gguf"
        let values = try writeSyntheticModel(input)
        var quantizer = GGUFQuantizer(fileType: .mostlyQ4_K_M, threads: 2)
        var events = 0
        let summary = try quantizer.quantize(input: input, output: output) { _ in events += 1 }
        XCTAssertEqual(events, summary.tensorCount)
        let out = try GGUFFile(path: output)
        let inFile = try GGUFFile(path: input)
        XCTAssertEqual(out["general.file_type"]?.intValue, 15)
        XCTAssertEqual(out["general.quantization_version"]?.intValue, 2)
        XCTAssertEqual(out["general.name"]?.stringValue, "synthetic")
        XCTAssertEqual(out.arrayElementType(forKey: "tokenizer.ggml.merges"), .string)
        XCTAssertEqual(out.tensors.map(\.name), inFile.tensors.map(\.name))
        let expectedTypes: [String: GGMLType] = [
            "token_embd.weight": .q4_K, "output.weight": .q6_K, "output_norm.weight": .f32,
            "blk.0.attn_norm.weight": .f32, "blk.0.attn_q.weight": .q4_K, "blk.0.attn_k.weight": .q4_K,
            // use_more_bits(i, 2) is false for layer 0, true for layer 1 (1 >= 7*2/8)
            "blk.0.attn_v.weight": .q4_K, "blk.1.attn_v.weight": .q6_K,
            "blk.0.ffn_down.weight": .q4_K, "blk.1.ffn_down.weight": .q6_K, "blk.0.ffn_gate.weight": .q4_K, "blk.0.attn_output.weight": .q4_K,
        ]
        for (name, type) in expectedTypes { XCTAssertEqual(out.tensor(named: name)?.type, type, name) }
        for t in out.tensors {
            let expected = RowQuantizer.quantize(t.type, values[t.name]!)
            XCTAssertEqual(Array(out.bytes(for: t)), expected, t.name)
        }

        // --leave-output-tensor keeps output.weight F32; --pure makes attn_v Q4_K.
        quantizer.leaveOutputTensor = true
        quantizer.pure = true
        try quantizer.quantize(input: input, output: output)
        let pure = try GGUFFile(path: output)
        XCTAssertEqual(pure.tensor(named: "output.weight")?.type, .f32)
        XCTAssertEqual(pure.tensor(named: "blk.0.attn_v.weight")?.type, .q4_K)
        XCTAssertEqual(pure.tensor(named: "blk.0.ffn_down.weight")?.type, .q4_K)
    }

    func testFallbackForRowsNotFittingBlocksAndTiedOutput() throws {
        let input = directory + "/in.gguf", output = directory + "/out.gguf"
        // 96-wide rows: Q4_K does not fit -> Q5_0; tied embedding -> Q8_0 (96 % 256 != 0).
        let values = try writeSyntheticModel(input, embedding: 96, ffn: 160, layers: 1, tied: true)
        try GGUFQuantizer(fileType: .mostlyQ4_K_S, threads: 1).quantize(input: input, output: output)
        let out = try GGUFFile(path: output)
        XCTAssertEqual(out.tensor(named: "token_embd.weight")?.type, .q8_0)
        XCTAssertEqual(out.tensor(named: "blk.0.attn_q.weight")?.type, .q5_0)
        XCTAssertEqual(out.tensor(named: "blk.0.ffn_down.weight")?.type, .q5_0, "Q4_K_S: layer 0 is not < 1/8, so Q4_K, which falls back to Q5_0 for 160-wide rows")
        for t in out.tensors {
            XCTAssertEqual(Array(out.bytes(for: t)), RowQuantizer.quantize(t.type, values[t.name]!), t.name)
        }
    }

    func testRequantizingNeedsPermission() throws {
        let input = directory + "/in.gguf", q = directory + "/q.gguf", out = directory + "/out.gguf"
        _ = try writeSyntheticModel(input)
        try GGUFQuantizer(fileType: .mostlyQ4_0).quantize(input: input, output: q)
        XCTAssertThrowsError(try GGUFQuantizer(fileType: .mostlyQ8_0).quantize(input: q, output: out)) { error in
            let e = error as? QuantizationError
            XCTAssertNotNil(e?.tensor)
            XCTAssertTrue("\(error)".contains("--allow-requantize"), "\(error)")
            XCTAssertTrue("\(error)".contains("already quantised (Q4_0)"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
        var allowed = GGUFQuantizer(fileType: .mostlyQ8_0)
        allowed.allowRequantize = true
        try allowed.quantize(input: q, output: out)
        XCTAssertEqual(try GGUFFile(path: out).tensor(named: "blk.0.attn_q.weight")?.type, .q8_0)
    }
}

/// Values exactly representable in `type` (so a stored F16/BF16 tensor dequantises to them).
enum RowKernelsRoundTrip {
    static func roundTrip(_ type: GGMLType, _ v: [Float]) -> [Float] {
        let bytes = RowQuantizer.quantize(type, v)
        var out = [Float](repeating: 0, count: v.count)
        bytes.withUnsafeBytes { b in out.withUnsafeMutableBufferPointer { RowKernels.dequantize(type, b.baseAddress!, into: $0.baseAddress!, count: v.count) } }
        return out
    }
}
