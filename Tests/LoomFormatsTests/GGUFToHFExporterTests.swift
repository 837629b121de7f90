import Foundation
import XCTest
import LoomKernels
@testable import LoomFormats

/// GGUF → HF directory → GGUF on the real SmolLM2 weights: every tensor comes back equal to
/// the original's dequantised values (so names, shapes and the q/k un-permutation invert the
/// converter, which is itself checked against convert_hf_to_gguf's layout), and the exported
/// config.json describes the model.
final class GGUFToHFExporterTests: XCTestCase {
    /// An output that is an existing file, or a directory that cannot be created, is a plain
    /// message naming the path (once Foundation's "NSCocoaErrorDomain Code=516/513").
    func testUnusableOutputDirectoryIsAPlainError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loom-export-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertThrowsError(try GGUFToHFExporter.prepareDirectory(file.path)) {
            XCTAssertEqual("\($0)", "\(file.path): exists and is not a directory; choose a new or an existing directory")
        }
        // /proc accepts no new directories, even for root (who bypasses permission bits).
        XCTAssertThrowsError(try GGUFToHFExporter.prepareDirectory("/proc/loom-export-test/out")) {
            XCTAssertTrue("\($0)".hasPrefix("/proc/loom-export-test/out: cannot create the directory"), "\($0)")
            XCTAssertFalse("\($0)".contains("NSCocoaErrorDomain"), "\($0)")
        }
    }

    func testSmolLM2RoundTripsThroughHFDirectory() throws {
        let source = try TestModels.path(TestModels.smolLM2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hf = dir + "/hf", back = dir + "/back.gguf"
        let exported = try GGUFToHFExporter(dtype: .f32).export(gguf: source, to: hf)
        let original = try GGUFFile(path: source)
        XCTAssertEqual(exported, original.tensors.count)

        let config = try HFModelConfig(path: hf + "/config.json")
        XCTAssertEqual(config.architecture, .llama)
        XCTAssertEqual(config.hiddenSize, original["llama.embedding_length"]?.intValue)
        XCTAssertEqual(config.numKeyValueHeads, original["llama.attention.head_count_kv"]?.intValue)
        XCTAssertEqual(config.numHiddenLayers, 30)
        XCTAssertTrue(config.tieWordEmbeddings)
        let checkpoint = try SafetensorsCheckpoint(directory: hf)
        XCTAssertNil(checkpoint.tensor(named: "lm_head.weight"))
        XCTAssertEqual(checkpoint.tensor(named: "model.layers.0.self_attn.q_proj.weight")?.info.shape, [576, 576])
        XCTAssertEqual(checkpoint.tensor(named: "model.layers.0.self_attn.k_proj.weight")?.info.shape, [192, 576])
        let tokenizerConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: hf + "/tokenizer_config.json"))) as? [String: Any]
        XCTAssertEqual(tokenizerConfig?["chat_template"] as? String, original["tokenizer.chat_template"]?.stringValue)

        try HFToGGUFConverter(outputType: .f32).convert(directory: hf, output: back)
        let roundTrip = try GGUFFile(path: back)
        XCTAssertEqual(Set(roundTrip.tensors.map(\.name)), Set(original.tensors.map(\.name)))
        for t in original.tensors {
            let r = try XCTUnwrap(roundTrip.tensor(named: t.name))
            XCTAssertEqual(r.dimensions, t.dimensions, t.name)
            var a = [Float](repeating: 0, count: t.elementCount), b = a
            a.withUnsafeMutableBufferPointer { RowKernels.dequantize(t.type, original.data(for: t), into: $0.baseAddress!, count: t.elementCount) }
            b.withUnsafeMutableBufferPointer { RowKernels.dequantize(r.type, roundTrip.data(for: r), into: $0.baseAddress!, count: r.elementCount) }
            XCTAssertTrue(a == b, t.name)
        }
        for key in ["llama.block_count", "llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count",
                    "llama.attention.head_count_kv", "llama.context_length"] {
            XCTAssertEqual(roundTrip[key]?.intValue, original[key]?.intValue, key)
        }
        XCTAssertEqual(roundTrip["llama.rope.freq_base"]?.doubleValue, original["llama.rope.freq_base"]?.doubleValue)
    }

    /// The F16 round trip: `export-hf --dtype f16` then `convert --type f16` gives every
    /// matrix as the original's values rounded once to fp16 (and 1-D tensors, kept in F32 by
    /// both tools as convert_hf_to_gguf does, unchanged), in the original's layout.
    func testSmolLM2F16RoundTripKeepsEveryTensor() throws {
        let source = try TestModels.path(TestModels.smolLM2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-export16-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hf = dir + "/hf", back = dir + "/back.gguf"
        _ = try GGUFToHFExporter(dtype: .f16).export(gguf: source, to: hf)
        try HFToGGUFConverter(outputType: .f16).convert(directory: hf, output: back)
        let original = try GGUFFile(path: source)
        let roundTrip = try GGUFFile(path: back)
        XCTAssertEqual(Set(roundTrip.tensors.map(\.name)), Set(original.tensors.map(\.name)))
        for t in original.tensors {
            let r = try XCTUnwrap(roundTrip.tensor(named: t.name))
            XCTAssertEqual(r.dimensions, t.dimensions, t.name)
            XCTAssertEqual(r.type, t.dimensions.count >= 2 ? .f16 : .f32, t.name)
            var a = [Float](repeating: 0, count: t.elementCount), b = a
            a.withUnsafeMutableBufferPointer { RowKernels.dequantize(t.type, original.data(for: t), into: $0.baseAddress!, count: t.elementCount) }
            b.withUnsafeMutableBufferPointer { RowKernels.dequantize(r.type, roundTrip.data(for: r), into: $0.baseAddress!, count: r.elementCount) }
            let expected = t.dimensions.count >= 2 ? a.map { halfToFloat(floatToHalf($0)) } : a
            XCTAssertTrue(expected == b, t.name)
        }
    }
}
