import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomModels
@testable import LoomTraining

/// QLoRA: two training steps on a Q4_0 GGUF base — the tiny qwen2 converted by Loom and
/// quantised with `--pure` (every matrix, the tied embedding included, Q4_0) — against
/// PyTorch + PEFT on the dequantised weights (scripts/gen_finetune_fixtures.py, case
/// "qwen2_q4_0"). The base stays Q4_0 in Loom: products and transposed products go through
/// the block format a tile of rows at a time.
final class QLoRAParityTests: XCTestCase {
    func testQ4_0BaseStepsMatchPEFTOnTheDequantisedWeights() throws {
        let fixture = try FinetuneStepFixture.load()
        let c = try XCTUnwrap(fixture.cases["qwen2_q4_0"])
        let quantized = try XCTUnwrap(c.quantized)
        XCTAssertEqual(quantized.type, "Q4_0")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-qlora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let f32 = dir.appendingPathComponent("f32.gguf").path, q4 = dir.appendingPathComponent("q4_0.gguf").path
        try HFToGGUFConverter(outputType: .f32).convert(directory: FinetuneStepFixture.baseDirectory(c.base), output: f32)
        var quantizer = GGUFQuantizer(fileType: .mostlyQ4_0, threads: 2)
        quantizer.pure = true
        _ = try quantizer.quantize(input: f32, output: q4)

        // The Q4_0 weights Loom trains on are the ones PyTorch got: same quantiser rounding.
        let model = try LanguageModel(path: q4)
        for (name, sum) in quantized.dequantized_sums {
            let w = try XCTUnwrap(Self.matrix(name, in: model.weights), name)
            XCTAssertEqual(w.type, .q4_0, name)
            var row = [Float](repeating: 0, count: w.columns), total = 0.0
            for r in 0..<w.rows {
                w.dequantizeRow(r, into: &row)
                total += row.reduce(0.0) { $0 + Double($1) }
            }
            XCTAssertEqual(total, sum, accuracy: 1e-6 * max(1, abs(sum)), "\(name): Loom's Q4_0 differs from gguf-py's")
        }
        try LoRATrainerParityTests.runCase("qwen2_q4_0", modelPath: q4)
    }

    /// The stored matrix of GGUF tensor `name` (`token_embd.weight`, `blk.N.attn_q.weight`, …).
    static func matrix(_ name: String, in w: DecoderWeights) -> WeightMatrix? {
        if name == "token_embd.weight" { return w.tokenEmbedding }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, let l = Int(parts[1]), l < w.layers.count else { return nil }
        let layer = w.layers[l]
        switch parts[2] {
        case "attn_q.weight": return layer.query.weight
        case "attn_k.weight": return layer.key.weight
        case "attn_v.weight": return layer.value.weight
        case "attn_output.weight": return layer.attentionOutput.weight
        case "ffn_gate.weight": return layer.gate.weight
        case "ffn_up.weight": return layer.up.weight
        case "ffn_down.weight": return layer.down.weight
        default: return nil
        }
    }
}
