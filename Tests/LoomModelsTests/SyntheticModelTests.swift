import Foundation
import XCTest
import LoomFormats
@testable import LoomKernels
@testable import LoomModels

/// Forward-pass invariants and load errors on tiny models written by Loom's GGUF writer.
final class SyntheticModelTests: XCTestCase {
    func load(_ spec: SyntheticModel) throws -> LanguageModel {
        var spec = spec
        let path = try spec.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try LanguageModel(path: path)
    }

    /// One batch, token by token and uneven chunks must give the same logits: the KV cache,
    /// positions and batched matmul agree with the single-token path.
    func checkBatchingInvariance(_ spec: SyntheticModel) throws {
        let model = try load(spec)
        let tokens = [5, 17, 200, 33, 33, 91, 7, 128, 64, 3, 250]
        let batched = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 2))
        var all: [[Float]] = []
        try batched.evaluate(tokens) { _, logits in all.append(Array(logits)) }
        XCTAssertEqual(all.count, tokens.count)
        let single = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 1))
        for (i, t) in tokens.enumerated() {
            let logits = Array(try single.evaluate([t]))
            for j in 0..<logits.count { XCTAssertEqual(logits[j], all[i][j], accuracy: 1e-4, "position \(i) token \(j)") }
        }
        let chunked = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 2))
        try chunked.evaluate(Array(tokens[0..<4]))
        let last = Array(try chunked.evaluate(Array(tokens[4...])))
        for j in 0..<last.count { XCTAssertEqual(last[j], all.last![j], accuracy: 1e-4) }
    }

    func testLlamaBatchingInvariance() throws { try checkBatchingInvariance(SyntheticModel()) }

    func testQwen2WithBiasesAndSeparateOutputBatchingInvariance() throws {
        var spec = SyntheticModel()
        spec.architecture = "qwen2"
        spec.withBiases = true
        spec.tiedOutput = false
        try checkBatchingInvariance(spec)
        XCTAssertFalse(try load(spec).weights.tiedOutput)
    }

    func testQwen2RequiresBiases() throws {
        var spec = SyntheticModel()
        spec.architecture = "qwen2"
        XCTAssertThrowsError(try load(spec)) { error in
            guard case let .missingTensor(name, _)? = error as? ModelError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(name, "blk.0.attn_q.bias")
        }
    }

    func testMissingTensorIsNamed() throws {
        var spec = SyntheticModel()
        spec.omit = ["blk.1.ffn_up.weight"]
        XCTAssertThrowsError(try load(spec)) { error in
            XCTAssertTrue("\(error)".contains("blk.1.ffn_up.weight"), "\(error)")
            XCTAssertTrue("\(error)".contains("missing"), "\(error)")
        }
    }

    func testWrongShapeIsNamed() throws {
        var spec = SyntheticModel()
        spec.reshape = ["blk.0.attn_k.weight": [32, 24]]
        XCTAssertThrowsError(try load(spec)) { error in
            guard case let .tensorShape(name, expected, actual, _)? = error as? ModelError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(name, "blk.0.attn_k.weight")
            XCTAssertEqual(expected, [32, 16])
            XCTAssertEqual(actual, [32, 24])
        }
    }

    func testUnsupportedArchitectureAndBadHyperParameters() throws {
        var spec = SyntheticModel()
        spec.architecture = "mamba"
        XCTAssertThrowsError(try load(spec)) { XCTAssertTrue("\($0)".contains("'mamba' is not supported"), "\($0)") }
        var uneven = SyntheticModel()
        uneven.kvHeads = 3
        XCTAssertThrowsError(try load(uneven)) { XCTAssertTrue("\($0)".contains("head_count_kv"), "\($0)") }
        var scaled = SyntheticModel()
        scaled.extraMetadata = ["llama.rope.scaling.type": .string("longrope")]
        XCTAssertThrowsError(try load(scaled)) { XCTAssertTrue("\($0)".contains("longrope"), "\($0)") }
    }

    /// Values a GGUF file can hold that used to be accepted silently (treated as "no scaling",
    /// overflowed to inf in Float32, or a bool read as 1) are named errors.
    func testImplausibleMetadataIsNamed() throws {
        let cases: [(String, GGUFValue, [(String, GGUFValue)], String)] = [
            ("llama.attention.layer_norm_rms_epsilon", .float64(1e300), [], "layer_norm_rms_epsilon"),
            ("llama.rope.scaling.factor", .float32(0), [("llama.rope.scaling.type", .string("linear"))], "positive factor"),
            ("llama.rope.scaling.factor", .float32(.nan), [("llama.rope.scaling.type", .string("linear"))], "positive factor"),
            ("llama.rope.scaling.factor", .float32(-4), [("llama.rope.scaling.type", .string("linear"))], "positive factor"),
            ("llama.rope.scaling.yarn_beta_fast", .float32(.nan),
             [("llama.rope.scaling.type", .string("yarn")), ("llama.rope.scaling.factor", .float32(4)),
              ("llama.rope.scaling.original_context_length", .uint32(32))], "yarn_beta_fast"),
            ("llama.context_length", .bool(true), [], "is a boolean"),
            // Once "failed to allocate N bytes": room for 2^27 layers was reserved before binding.
            ("llama.block_count", .uint32(1 << 27), [], "(the config says 134217728 layers)"),
            ("llama.block_count", .uint32(1 << 28), [], "not a positive size"),
        ]
        for (key, value, others, expected) in cases {
            var spec = SyntheticModel()
            spec.extraMetadata = [key: value]
            for (k, v) in others { spec.extraMetadata[k] = v }
            XCTAssertThrowsError(try load(spec), key) { XCTAssertTrue("\($0)".contains(expected), "\(key) = \(value): \($0)") }
        }
    }

    func testContextOverflowAndBadTokensAreErrors() throws {
        let model = try load(SyntheticModel())
        let session = try model.makeSession(contextLength: 8, pool: ThreadPool(threadCount: 1))
        XCTAssertThrowsError(try session.evaluate(Array(repeating: 1, count: 9))) {
            XCTAssertEqual($0 as? ModelError, .contextFull(needed: 9, capacity: 8))
        }
        XCTAssertThrowsError(try session.evaluate([model.config.vocabularySize])) {
            XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(token: 258, vocabularySize: 258))
        }
        XCTAssertThrowsError(try session.evaluate([-1]))
        XCTAssertThrowsError(try session.evaluate([])) { XCTAssertEqual($0 as? ModelError, .emptyInput) }
        try session.evaluate(Array(repeating: 1, count: 8))
        XCTAssertEqual(session.position, 8)
        XCTAssertThrowsError(try session.evaluate([1]))
    }
}
