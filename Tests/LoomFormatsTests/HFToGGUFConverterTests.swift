import Foundation
import XCTest
import LoomKernels
@testable import LoomFormats
import LoomTestSupport

/// HF → GGUF conversion against `expected.json` files describing the tensors
/// convert_hf_to_gguf.py produces (scripts/gen_hf_convert_fixtures.py): names, dimensions, the
/// sha256 of the F32 data (so the llama Q/K permutation, F32 norms, llama3 rope_freqs, tied
/// embeddings and shards all show in the digests), and metadata. The checkpoints' weights are
/// generated from their `weights.json` (LoomTestSupport).
final class HFToGGUFConverterTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `expected.json`.
    struct Expected: Decodable {
        struct Tensor: Decodable {
            let name: String
            let type: String
            let dimensions: [Int]
            let sha256: String
        }
        /// String or number values of the GGUF keys the conversion must write.
        let metadata: [String: JSONScalar]
        let tensors: [Tensor]
    }

    enum JSONScalar: Decodable, Equatable {
        case string(String), number(Double)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .string(s) } else { self = .number(try c.decode(Double.self)) }
        }
    }

    /// The materialised fixture (weights generated from `weights.json`, verified) of `arch`.
    func fixture(_ arch: String) throws -> String {
        let source = try XCTUnwrap(Bundle.module.url(forResource: "hf_convert", withExtension: nil, subdirectory: "Fixtures"))
        return try SyntheticFixture.materialize(source).appendingPathComponent(arch).path
    }

    func floats(_ file: GGUFFile, _ t: GGUFTensorInfo) -> [Float] {
        var out = [Float](repeating: 0, count: t.elementCount)
        out.withUnsafeMutableBufferPointer { RowKernels.dequantize(t.type, file.data(for: t), into: $0.baseAddress!, count: t.elementCount) }
        return out
    }

    func check(_ arch: String, tensorCount: Int) throws {
        let dir = try fixture(arch)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
        let out = directory + "/\(arch).gguf"
        XCTAssertEqual(try HFToGGUFConverter(outputType: .f32).convert(directory: dir, output: out), tensorCount)
        let got = try GGUFFile(path: out)
        XCTAssertEqual(Set(got.tensors.map(\.name)), Set(expected.tensors.map(\.name)))
        for e in expected.tensors {
            let g = try XCTUnwrap(got.tensor(named: e.name))
            XCTAssertEqual(g.dimensions, e.dimensions, e.name)
            XCTAssertEqual(e.type, "F32", e.name)
            XCTAssertEqual(g.type, .f32, e.name)
            XCTAssertEqual(SyntheticFixture.sha256Hex(got.bytes(for: g)), e.sha256, "\(e.name): F32 data differs from convert_hf_to_gguf.py's")
        }
        XCTAssertFalse(expected.metadata.isEmpty)
        for (key, value) in expected.metadata {
            switch value {
            case .string(let s): XCTAssertEqual(got[key]?.stringValue, s, key)
            case .number(let n): XCTAssertEqual(got[key]?.doubleValue, n, key)
            }
        }

        // F16 and Q8_0: matrices converted, 1-D tensors stay F32; Q8_0 blocks as Loom's
        // quantiser makes them from the expected F32 data (equal to `got`'s by the digests above).
        let q = directory + "/\(arch)-q8.gguf"
        try HFToGGUFConverter(outputType: .q8_0).convert(directory: dir, output: q)
        let q8 = try GGUFFile(path: q)
        for e in expected.tensors {
            let g = try XCTUnwrap(q8.tensor(named: e.name))
            let f = try XCTUnwrap(got.tensor(named: e.name))
            let type: GGMLType = e.dimensions.count >= 2 ? .q8_0 : .f32
            XCTAssertEqual(g.type, type, e.name)
            XCTAssertEqual(Array(q8.bytes(for: g)), RowQuantizer.quantize(type, floats(got, f)), e.name)
        }
        XCTAssertEqual(q8["general.file_type"]?.intValue, 7)
    }

    func testLlamaBF16WithLlama3RopeMatchesConvertHFToGGUF() throws {
        try check("llama", tensorCount: 2 * 9 + 3 + 1)
        let got = try GGUFFile(path: directory + "/llama.gguf")
        XCTAssertNotNil(got.tensor(named: "rope_freqs.weight"))
    }

    func testQwen2ShardedTiedMatchesConvertHFToGGUF() throws {
        try check("qwen2", tensorCount: 2 * 12 + 2)
        let got = try GGUFFile(path: directory + "/qwen2.gguf")
        XCTAssertNil(got.tensor(named: "output.weight"), "tied embeddings: no output tensor")
        XCTAssertNotNil(got.tensor(named: "blk.1.attn_q.bias"))
    }

    func testPermutationRoundTripsAndNames() {
        let v = (0..<(16 * 3)).map(Float.init)
        let p = HFTensorNaming.permuteForGGUF(v, rows: 16, heads: 2)
        XCTAssertEqual(HFTensorNaming.unpermuteFromGGUF(p, rows: 16, heads: 2), v)
        // Head 0 (rows 0..<8, hd 8, half 4): HF row 4 (half 1, i 0) becomes GGUF row 1.
        XCTAssertEqual(Array(p[3..<6]), Array(v[12..<15]))
        XCTAssertEqual(HFTensorNaming.llamaFamily.ggufName(forHF: "model.layers.12.mlp.down_proj.weight"), "blk.12.ffn_down.weight")
        XCTAssertEqual(HFTensorNaming.llamaFamily.hfName(forGGUF: "blk.3.attn_k.bias"), "model.layers.3.self_attn.k_proj.bias")
        XCTAssertNil(HFTensorNaming.llamaFamily.ggufName(forHF: "model.layers.0.self_attn.rotary_emb.inv_freq"))
        XCTAssertEqual(Architecture.phi3.tensorNames.ggufName(forHF: "model.layers.2.self_attn.qkv_proj.weight"), "blk.2.attn_qkv.weight")
        XCTAssertEqual(Architecture.phi3.tensorNames.hfName(forGGUF: "blk.0.ffn_up.weight"), "model.layers.0.mlp.gate_up_proj.weight")
        XCTAssertNil(Architecture.phi3.tensorNames.hfName(forGGUF: "blk.0.ffn_gate.weight"))
    }
}
