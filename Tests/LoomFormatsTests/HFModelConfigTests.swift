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
        rejected("rope_scaling.short_factor", "the rotated pairs per head are 8") {
            $0["rope_scaling"] = ["rope_type": "longrope", "short_factor": [1, 1], "long_factor": [1, 1]]
        }
        rejected("rope_scaling", "is not an object") { $0["rope_scaling"] = 3 }
        XCTAssertThrowsError(try HFModelConfig(data: Data("{\"a\":".utf8), path: "x.json")) { XCTAssertTrue("\($0)".contains("invalid JSON")) }
        XCTAssertThrowsError(try HFModelConfig(data: Data(String(repeating: "[", count: 100_000).utf8), path: "x.json")) {
            XCTAssertTrue("\($0)".contains("nesting deeper than"), "\($0)")
        }
        XCTAssertThrowsError(try HFModelConfig(data: Data("[1]".utf8), path: "x.json")) {
            XCTAssertEqual("\($0)", "x.json: JSON is not an object but an array")
        }
    }

    /// config.json text with `extra` members added to a valid minimal Llama config.
    private func config(_ extra: String) -> Data {
        Data("""
        {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "max_position_embeddings": 256, "vocab_size": 100\(extra.isEmpty ? "" : ", " + extra)}
        """.utf8)
    }

    private func assertRejected(_ extra: String, field: String, _ text: String, line: UInt = #line) {
        XCTAssertThrowsError(try HFModelConfig(data: config(extra), path: "cfg.json"), line: line) { error in
            guard let e = error as? HFConfigError else { return XCTFail("\(error)", line: line) }
            XCTAssertEqual(e.field, field, "\(e)", line: line)
            XCTAssertTrue(e.reason.contains(text), "\(e)", line: line)
        }
    }

    /// JSON types stay apart as in Python's json: a boolean is not a number nor a number a
    /// boolean; whole numbers written as `4.0` or `2e0` are integers; null means absent.
    func testJSONTypesAreKeptApart() throws {
        let whole = try HFModelConfig(data: config(#""num_key_value_heads": 2.0, "head_dim": 1.6e1, "eos_token_id": [1.0, 2], "rope_theta": 500000"#))
        XCTAssertEqual(whole.numKeyValueHeads, 2)
        XCTAssertEqual(whole.headDim, 16)
        XCTAssertEqual(whole.eosTokenIds, [1, 2])
        XCTAssertEqual(whole.ropeTheta, 500_000)
        let nulls = try HFModelConfig(data: config(#""num_key_value_heads": null, "head_dim": null, "rope_scaling": null, "tie_word_embeddings": null, "bos_token_id": null"#))
        XCTAssertEqual(nulls.numKeyValueHeads, 4)
        XCTAssertEqual(nulls.headDim, 16)
        XCTAssertNil(nulls.ropeScaling)
        XCTAssertFalse(nulls.tieWordEmbeddings)
        XCTAssertNil(nulls.bosTokenId)
        XCTAssertTrue(try HFModelConfig(data: config(#""tie_word_embeddings": true"#)).tieWordEmbeddings)

        assertRejected(#""tie_word_embeddings": 1"#, field: "tie_word_embeddings", "is not a boolean")
        assertRejected(#""tie_word_embeddings": "true""#, field: "tie_word_embeddings", "is not a boolean")
        assertRejected(#""num_key_value_heads": true"#, field: "num_key_value_heads", "is not a finite number")
        assertRejected(#""rms_norm_eps": false"#, field: "rms_norm_eps", "is not a finite number")
        assertRejected(#""eos_token_id": [true]"#, field: "eos_token_id[0]", "non-negative integer")
        assertRejected(#""bos_token_id": true"#, field: "bos_token_id", "is not a finite number")
        assertRejected(#""head_dim": 16.5"#, field: "head_dim", "16.5 is not an integer")
        assertRejected(#""head_dim": 1e30"#, field: "head_dim", "is not an integer")
        assertRejected(#""num_key_value_heads": 9000000000000000000"#, field: "num_key_value_heads", "is out of range")
        assertRejected(#""rope_scaling": {"rope_type": "linear", "factor": true}"#, field: "rope_scaling.factor", "is not a finite number")
        assertRejected(#""rope_scaling": {"rope_type": "longrope", "short_factor": [1, true], "long_factor": [1, 1]}"#,
                       field: "rope_scaling.short_factor[1]", "is not a finite number")
        assertRejected(#""architectures": "LlamaForCausalLM""#, field: "architectures", "not a list of strings")
    }

    /// A config.json that is not JSON names the line and column of the fault.
    func testSyntaxErrorNamesLineAndColumn() {
        let text = "{\n  \"hidden_size\": 64,\n  \"tie_word_embeddings\": tru\n}"
        XCTAssertThrowsError(try HFModelConfig(data: Data(text.utf8), path: "config.json")) { error in
            guard let e = error as? HFConfigError else { return XCTFail("\(error)") }
            XCTAssertNil(e.field)
            // The "t" of "tru" is byte 48; line 3 starts at byte 23, so it is column 26.
            XCTAssertEqual(e.description, "config.json: invalid JSON at line 3, column 26 (byte 48): invalid literal, expected 'true'")
        }
        XCTAssertThrowsError(try HFModelConfig(data: Data("{\"hidden_size\": 64,}".utf8), path: "config.json")) { error in
            XCTAssertTrue("\(error)".contains("invalid JSON at line 1, column 20 (byte 19): expected a string key in an object"), "\(error)")
        }
    }
}
