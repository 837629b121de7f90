import Foundation
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// Absmean ternarisation (`loom quantize --ternary`) and Loom's packed ternary GGUF layout (I8
/// codes + an F32 `.scale`, ``TernaryGGUFLayout``) against transformers' BitNet integration
/// (scripts/gen_hf_bitnet_fixtures.py):
/// - `weight_quant_example`: one matrix through transformers' `WeightQuant`;
/// - `llama_online`: a float LlamaForCausalLM whose layer linears transformers swaps for online
///   `AutoBitLinear` (absmean weights, per-token int8 activations) — the reference for
///   quantising a float model with `--ternary`;
/// - `llama_bitnet`: a packed BitLinear checkpoint, converted through the packed layout.
final class TernaryGGUFTests: XCTestCase {
    struct WeightQuantExample: Decodable {
        let weights: [[Float]]
        let codes: [[Int]]
        let mean_abs: Double
    }
    struct ExampleFile: Decodable { let weight_quant_example: WeightQuantExample }

    static let tolerance = 1e-3
    let pool = ThreadPool(threadCount: 2)

    func temporaryPath(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "loom-ternary-\(UUID().uuidString)-" + name
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// The HF directory `name` of the hf_bitnet fixture converted to an F32 GGUF.
    func floatGGUF(_ name: String) throws -> String {
        let (root, _) = try HFBitNetTests.loaded.get()
        let path = temporaryPath(name + ".f32.gguf")
        try HFToGGUFConverter(outputType: .f32).convert(directory: root.appendingPathComponent(name).path, output: path)
        return path
    }

    /// `input` with its projections ternarised and every other tensor kept F32, so that logits
    /// compare with float32 references.
    func ternarised(_ input: String, fileType: QuantizationFileType = .allF32) throws -> String {
        let path = temporaryPath("ternary.gguf")
        var quantizer = GGUFQuantizer(fileType: fileType, threads: 2)
        quantizer.ternary = true
        try quantizer.quantize(input: input, output: path)
        return path
    }

    func testAbsmeanCodesAndScaleMatchTransformersWeightQuant() throws {
        let root = try HFBitNetTests.loaded.get().root
        let e = try JSONDecoder().decode(ExampleFile.self, from: Data(contentsOf: root.appendingPathComponent("reference_logits.json"))).weight_quant_example
        let w = e.weights.flatMap { $0 }
        let s = TernaryPacking.absmeanInverseScale(w, count: w.count)
        // Loom sums in Double; PyTorch's float32 reduction lands an ulp or two away.
        XCTAssertEqual(Double(1 / s), e.mean_abs, accuracy: 1e-6 * e.mean_abs)
        XCTAssertEqual(w.map { Int(TernaryPacking.ternary($0, inverseScale: s)) }, e.codes.flatMap { $0 })
        XCTAssertTrue(e.codes.flatMap { $0 }.contains(0) && e.codes.flatMap { $0 }.contains(1) && e.codes.flatMap { $0 }.contains(-1),
                      "the example exercises every code")
        // The packed bytes hold row k·R + p in bits 2k of byte row p (transformers' pack_weights).
        let rows = e.weights.count, columns = e.weights[0].count
        var packed = [UInt8](repeating: 0, count: rows / 4 * columns)
        TernaryPacking.pack(w, rows: rows, columns: columns, inverseScale: s, into: &packed)
        try packed.withUnsafeBytes { raw in
            let m = BitLinearMatrix(rows: rows, columns: columns, base: try XCTUnwrap(raw.baseAddress), weightScale: 1 / s, scaleUse: .multiply)
            for r in 0..<rows { for c in 0..<columns { XCTAssertEqual(m.value(row: r, column: c), e.codes[r][c]) } }
        }
    }

    /// `quantize --ternary` of a float model computes what transformers' online AutoBitLinear
    /// does; the plain float model is far from it, so the check can tell them apart.
    func testTernarisedFloatModelMatchesTransformersOnlineBitNet() throws {
        let fixture = try HFBitNetTests.loaded.get().fixture
        let float = try floatGGUF("llama_online")
        let plainModel = try LanguageModel(path: float)
        let model = try LanguageModel(path: try ternarised(float))
        for layer in model.weights.layers {
            XCTAssertTrue(layer.projections.allSatisfy { $0.bitLinear?.scaleUse == .multiply }, "every projection is packed (64-wide rows)")
        }
        XCTAssertNil(model.weights.output.bitLinear, "the LM head is not ternarised")
        // The fixture keeps only texts whose reference logits stay put under 1e-6 input noise:
        // per-token int8 activations are discontinuous at code boundaries (see the script).
        let worst = try fixture.worstDifference(model, "llama_online", decodeToo: true)
        print("llama_online ternarised: max |Δ logit| vs transformers online BitNet: \(worst)")
        XCTAssertLessThanOrEqual(worst, Self.tolerance)
        XCTAssertGreaterThan(try fixture.worstDifference(plainModel, "llama_online"), 0.5, "ternarisation must move these logits")
    }

    /// A packed BitLinear checkpoint through `convert --type tq2_0` (64-wide rows: the packed
    /// layout) and through F32 + `quantize --ternary` keeps every weight and its scale; the
    /// second (F32 elsewhere) runs as transformers' BitLinear does.
    func testBitNetCheckpointGoesThroughThePackedLayoutLosslessly() throws {
        let (root, fixture) = try HFBitNetTests.loaded.get()
        let directory = root.appendingPathComponent("llama_bitnet").path
        let hf = try LanguageModel(path: directory)
        let converted = temporaryPath("tq2.gguf")
        try HFToGGUFConverter(outputType: .tq2_0).convert(directory: directory, output: converted)
        let requantized = try ternarised(try floatGGUF("llama_bitnet"))
        for path in [converted, requantized] {
            let model = try LanguageModel(path: path)
            for (a, b) in zip(hf.weights.layers, model.weights.layers) {
                for (original, stored) in zip(a.projections, b.projections) {
                    let w = try XCTUnwrap(original.bitLinear), p = try XCTUnwrap(stored.bitLinear, path)
                    // BitLinear divides by weight_scale; the packed layout stores the factor.
                    XCTAssertEqual(p.weightScale, 1 / w.weightScale, path)
                    // Q and K rows are permuted for GGUF (llama.cpp's RoPE layout): compare counts.
                    var counts = [0, 0, 0], stored = [0, 0, 0]
                    for r in 0..<w.rows {
                        for c in 0..<w.columns { counts[w.value(row: r, column: c) + 1] += 1; stored[p.value(row: r, column: c) + 1] += 1 }
                    }
                    XCTAssertEqual(counts, stored)
                }
                // V, O and the MLP are not permuted: identical code for code.
                for (original, stored) in [(a.value, b.value), (a.attentionOutput, b.attentionOutput), (a.down, b.down)] {
                    let w = try XCTUnwrap(original.bitLinear), p = try XCTUnwrap(stored.bitLinear)
                    for r in 0..<w.rows { for c in 0..<w.columns { XCTAssertEqual(w.value(row: r, column: c), p.value(row: r, column: c)) } }
                }
            }
        }
        // convert writes the embedding and head as F16, so only the F32 file meets float32 logits.
        let worst = try fixture.worstDifference(try LanguageModel(path: requantized), "llama_bitnet", decodeToo: true)
        print("llama_bitnet via quantize --ternary: max |Δ logit| vs transformers BitLinear \(worst)")
        XCTAssertLessThanOrEqual(worst, Self.tolerance)
    }

    /// Requantising a ternary file without `--ternary` keeps the packed tensors as they are.
    func testRequantizingKeepsPackedTensors() throws {
        let ternary = try ternarised(try floatGGUF("llama_online"))
        let again = temporaryPath("again.gguf")
        try GGUFQuantizer(fileType: .mostlyQ4_0, threads: 2).quantize(input: ternary, output: again)
        let a = try GGUFFile(path: ternary), b = try GGUFFile(path: again)
        for t in a.tensors where t.type == .i8 || t.name.hasSuffix(".scale") {
            let u = try XCTUnwrap(b.tensor(named: t.name))
            XCTAssertEqual(u.type, t.type, t.name)
            XCTAssertEqual(Array(a.bytes(for: t)), Array(b.bytes(for: u)), t.name)
        }
    }

    /// `export-hf` of a packed file writes ternary × scale floats in HF's layout (Q/K rows
    /// un-permuted), not the codes: loaded back, every projection holds the packed values.
    func testExportToHFUnpacksTernaryWeights() throws {
        let ternary = try ternarised(try floatGGUF("llama_online"))
        let directory = temporaryPath("hf-export")
        try GGUFToHFExporter(dtype: .f32).export(gguf: ternary, to: directory)
        // The exporter writes config, weights and tokenizer_config; the vocabulary comes from the source.
        let source = try HFBitNetTests.loaded.get().root.appendingPathComponent("llama_online/tokenizer.json")
        try FileManager.default.copyItem(at: source, to: URL(fileURLWithPath: directory + "/tokenizer.json"))
        let packed = try LanguageModel(path: ternary), exported = try LanguageModel(path: directory)
        for (a, b) in zip(packed.weights.layers, exported.weights.layers) {
            for (index, (p, f)) in zip(a.projections, b.projections).enumerated() {
                let w = try XCTUnwrap(p.bitLinear)
                XCTAssertNil(f.bitLinear)
                var x = [Float](repeating: 0, count: w.columns), y = x
                var packedRows: [[Float]] = [], exportedRows: [[Float]] = []
                for r in 0..<w.rows {
                    w.dequantizeRow(r, into: &x)
                    f.weight.dequantizeRow(r, into: &y)
                    packedRows.append(x)
                    exportedRows.append(y)
                }
                // Q and K (projections 0 and 1) come back in HF's RoPE row order: the same rows, permuted.
                if index < 2 {
                    XCTAssertEqual(packedRows.sorted { $0.lexicographicallyPrecedes($1) }, exportedRows.sorted { $0.lexicographicallyPrecedes($1) })
                } else {
                    XCTAssertEqual(packedRows, exportedRows, "projection \(index)")
                }
            }
        }
    }

    // MARK: Bad input

    /// A copy of GGUF `input` with tensors dropped or replaced (`change` returns nil to keep one,
    /// `.some(nil)` to drop it).
    func edited(_ input: String, _ change: (GGUFTensorInfo, [UInt8]) -> (type: GGMLType, dims: [Int], data: [UInt8])??) throws -> String {
        let file = try GGUFFile(path: input)
        var writer = GGUFWriter(alignment: file.alignment)
        for key in file.metadataKeys { if let v = file[key] { writer.setMetadata(key, v) } }
        for t in file.tensors {
            let data = Array(file.bytes(for: t))
            switch change(t, data) {
            case .none: try writer.addTensor(name: t.name, type: t.type, dimensions: t.dimensions, data: data)
            case .some(.none): continue
            case .some(.some(let r)): try writer.addTensor(name: t.name, type: r.type, dimensions: r.dims, data: r.data)
            }
        }
        let path = temporaryPath("edited.gguf")
        try writer.write(to: path)
        return path
    }

    func assertLoadFails(_ path: String, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LanguageModel(path: path), file: file, line: line) { error in
            for part in parts { XCTAssertTrue("\(error)".contains(part), "'\(error)' should mention \(part)", file: file, line: line) }
        }
    }

    func testBrokenPackedTensorsAreNamed() throws {
        let ternary = try ternarised(try floatGGUF("llama_online"))
        assertLoadFails(try edited(ternary) { t, _ in t.name == "blk.1.ffn_up.scale" ? .some(nil) : nil },
                        mentions: ["blk.1.ffn_up.scale", "scale of packed ternary weight"])
        assertLoadFails(try edited(ternary) { t, d in t.name == "blk.0.attn_k.weight" ? (.i8, [d.count], d) : nil },
                        mentions: ["blk.0.attn_k.weight", "packed ternary"])
        assertLoadFails(try edited(ternary) { t, _ in t.name == "blk.0.attn_v.scale" ? (.f32, [1], Array(withUnsafeBytes(of: Float(-1)) { Array($0) })) : nil },
                        mentions: ["blk.0.attn_v.scale", "positive finite"])
        // I8 outside a projection (the embedding) is refused, not read as numbers.
        assertLoadFails(try edited(ternary) { t, d in
            t.name == "token_embd.weight" ? (.i8, t.dimensions, [UInt8](repeating: 1, count: t.elementCount)) : nil
        }, mentions: ["token_embd.weight", "packed ternary codes"])
    }

    func testRowsThatCannotBePackedAreRefusedByName() throws {
        let float = try floatGGUF("llama_online")
        let odd = try edited(float) { t, _ in
            t.name == "blk.0.attn_q.weight" ? (.f32, [t.dimensions[0], 6], [UInt8](repeating: 0, count: 4 * 6 * t.dimensions[0])) : nil
        }
        XCTAssertThrowsError(try ternarised(odd)) { error in
            XCTAssertTrue("\(error)".contains("blk.0.attn_q.weight") && "\(error)".contains("multiple of 4"), "\(error)")
        }
    }
}
