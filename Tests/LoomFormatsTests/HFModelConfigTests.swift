import Foundation
import XCTest
@testable import LoomFormats

/// HFModelConfig against the values transformers reads from the same files
/// (`scripts/gen_hf_config_fixtures.py`), plus malformed configs.
final class HFModelConfigTests: XCTestCase {
    struct Expected: Decodable {
        let architecture: String
        let hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim: Int
        let rms_norm_eps, rope_theta: Double
        let rope_type: String
        let rope_factor: Double?
        let max_position_embeddings: Int
        let tie_word_embeddings: Bool
        let vocab_size: Int
        let bos_token_id: Int?
        let eos_token_ids: [Int]
        let torch_dtype: String?
    }

    func directory() throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "hf_configs", withExtension: nil, subdirectory: "Fixtures"))
    }

    func testMatchesTransformersOnEveryFixture() throws {
        let dir = try directory()
        let expected = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        XCTAssertEqual(expected.count, 15)
        for (file, e) in expected {
            let c = try HFModelConfig(path: dir.appendingPathComponent(file).path)
            XCTAssertEqual(c.className, e.architecture, file)
            XCTAssertEqual(c.hiddenSize, e.hidden_size, file)
            XCTAssertEqual(c.intermediateSize, e.intermediate_size, file)
            XCTAssertEqual(c.numHiddenLayers, e.num_hidden_layers, file)
            XCTAssertEqual(c.numAttentionHeads, e.num_attention_heads, file)
            XCTAssertEqual(c.numKeyValueHeads, e.num_key_value_heads, file)
            XCTAssertEqual(c.headDim, e.head_dim, file)
            XCTAssertEqual(c.rmsNormEps, e.rms_norm_eps, file)
            XCTAssertEqual(c.ropeTheta, e.rope_theta, file)
            XCTAssertEqual(c.ropeScaling?.typeName ?? "default", e.rope_type, file)
            XCTAssertEqual(c.ropeScaling?.factor, e.rope_factor, file)
            XCTAssertEqual(c.maxPositionEmbeddings, e.max_position_embeddings, file)
            XCTAssertEqual(c.tieWordEmbeddings, e.tie_word_embeddings, file)
            XCTAssertEqual(c.vocabSize, e.vocab_size, file)
            XCTAssertEqual(c.bosTokenId, e.bos_token_id, file)
            XCTAssertEqual(c.eosTokenIds, e.eos_token_ids, file)
            XCTAssertEqual(c.torchDtype, e.torch_dtype, file)
            XCTAssertEqual(c.attentionBias, c.architecture.qkvBias == .always, file)
        }
    }

    func testTypedScalingParameters() throws {
        let dir = try directory()
        let llama31 = try HFModelConfig(path: dir.appendingPathComponent("legacy_llama31.json").path)
        XCTAssertEqual(llama31.ropeScaling, .llama3(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192))
        let yarn = try HFModelConfig(path: dir.appendingPathComponent("llama_yarn.json").path)
        guard case .yarn(4, 32768, nil, 32, 1, nil, nil)? = yarn.ropeScaling else { return XCTFail("\(String(describing: yarn.ropeScaling))") }
        let longrope = try HFModelConfig(path: dir.appendingPathComponent("qwen2_longrope.json").path)
        guard case .longrope(let short, let long, 32, 4096, nil)? = longrope.ropeScaling else { return XCTFail("\(String(describing: longrope.ropeScaling))") }
        XCTAssertEqual(short, [1, 1.125, 1.25, 1.375])
        XCTAssertEqual(long, [2, 3, 4, 5])
        let legacyYarn = try HFModelConfig(path: dir.appendingPathComponent("legacy_qwen2_yarn_type.json").path)
        XCTAssertEqual(legacyYarn.ropeScaling?.typeName, "yarn", "old 'type' key")
    }

    func testMalformedConfigsNameTheField() throws {
        let good: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "max_position_embeddings": 256, "vocab_size": 100,
        ]
        func parse(_ edit: (inout [String: Any]) -> Void) throws -> HFModelConfig {
            var o = good
            edit(&o)
            return try HFModelConfig(data: JSONSerialization.data(withJSONObject: o), path: "cfg.json")
        }
        let c = try parse { _ in }
        XCTAssertEqual(c.numKeyValueHeads, 4)
        XCTAssertEqual(c.headDim, 16)
        XCTAssertNil(c.ropeScaling)
        func rejected(_ field: String?, _ text: String, line: UInt = #line, _ edit: (inout [String: Any]) -> Void) {
            XCTAssertThrowsError(try parse(edit), line: line) { error in
                guard let e = error as? HFConfigError else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(e.field, field, "\(e)", line: line)
                XCTAssertTrue(e.description.contains(text), "\(e)", line: line)
            }
        }
        rejected("architectures", "not supported") { $0["architectures"] = ["BertModel"] }
        rejected("architectures", "missing") { $0["architectures"] = nil }
        rejected("hidden_size", "missing") { $0["hidden_size"] = nil }
        rejected("hidden_size", "not a finite number") { $0["hidden_size"] = "64" }
        rejected("num_attention_heads", "is not positive") { $0["num_attention_heads"] = 0 }
        rejected("num_key_value_heads", "does not divide") { $0["num_key_value_heads"] = 3 }
        rejected("num_attention_heads", "does not divide hidden_size") { $0["num_attention_heads"] = 5 }
        rejected("intermediate_size", "not an integer") { $0["intermediate_size"] = 12.5 }
        rejected("eos_token_id", "not below vocab_size") { $0["eos_token_id"] = 100 }
        rejected("eos_token_id[1]", "non-negative integer") { $0["eos_token_id"] = [1, -2] }
        rejected("rope_scaling.rope_type", "unknown RoPE scaling type 'fancy'") { $0["rope_scaling"] = ["rope_type": "fancy", "factor": 2] }
        rejected("rope_scaling.factor", "missing") { $0["rope_scaling"] = ["type": "linear"] }
        rejected("rope_scaling.factor", "not positive") { $0["rope_scaling"] = ["type": "linear", "factor": -1] }
        rejected("rope_scaling.original_max_position_embeddings", "missing") {
            $0["rope_scaling"] = ["rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4]
        }
        rejected("rope_scaling.short_factor", "head_dim/2 is 8") {
            $0["rope_scaling"] = ["rope_type": "longrope", "short_factor": [1, 1], "long_factor": [1, 1]]
        }
        rejected("rope_scaling", "is not an object") { $0["rope_scaling"] = 3 }
        XCTAssertThrowsError(try HFModelConfig(data: Data("{\"a\":".utf8), path: "x.json")) { XCTAssertTrue("\($0)".contains("invalid JSON")) }
        XCTAssertThrowsError(try HFModelConfig(data: Data(String(repeating: "[", count: 100_000).utf8), path: "x.json")) {
            XCTAssertTrue("\($0)".contains("nested"))
        }
    }
}
