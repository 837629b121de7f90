import Foundation
import XCTest
@testable import LoomFormats
import LoomKernels
@testable import LoomModels

/// The random-weight benchmark models (`loom bench --write-shape`, issue #29): the shape, the
/// padded tokenizer and the weight statistics are what the benchmark scripts rely on.
final class BenchmarkShapeTests: XCTestCase {
    /// A tokenizer source (SyntheticModel's 258 tokens) and an output path, both removed after `body`.
    func withTokenizerAndOutput(_ body: (GGUFFile, String) throws -> Void) throws {
        var tokenizerSource = SyntheticModel()
        let sourcePath = try tokenizerSource.write()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("loom-shape-\(UUID().uuidString).gguf").path
        defer {
            try? FileManager.default.removeItem(atPath: sourcePath)
            try? FileManager.default.removeItem(atPath: path)
        }
        try body(try GGUFFile(path: sourcePath), path)
    }

    /// A small model at the Qwen2 layout (biases, tied head) with a vocabulary larger than the
    /// tokenizer's 258 tokens, loaded and run by Loom.
    func testSmallShapeLoadsWithPaddedVocabularyAndRuns() throws {
        try withTokenizerAndOutput { tokenizer, path in try checkSmallShape(tokenizer, path) }
    }

    func checkSmallShape(_ tokenizer: GGUFFile, _ path: String) throws {
        let shape = BenchmarkShape(name: "tiny", architecture: "qwen2", hidden: 64, feedForward: 96, heads: 4,
                                   kvHeads: 2, vocabulary: 300, layers: 8, tiedOutput: true)
        try shape.writeRandomModel(to: path, layers: 2, tokenizer: tokenizer, seed: 7)

        let file = try GGUFFile(path: path)
        XCTAssertEqual(file["qwen2.block_count"]?.intValue, 2)
        XCTAssertNil(file.tensor(named: "output.weight"), "a tied head has no output.weight")
        XCTAssertEqual(file.tensor(named: "blk.1.attn_k.bias")?.dimensions, [32])
        XCTAssertEqual(file.tensor(named: "blk.0.ffn_down.weight")?.dimensions, [96, 64])
        let tokens = try XCTUnwrap(file["tokenizer.ggml.tokens"]?.stringArray)
        XCTAssertEqual(tokens.count, 300)
        XCTAssertEqual(tokens[258], "<|bench_pad_0|>")
        XCTAssertEqual(tokens[299], "<|bench_pad_41|>")
        XCTAssertEqual(file["tokenizer.ggml.token_type"]?.intArray?.count, 300)
        XCTAssertEqual(file["tokenizer.ggml.eos_token_id"]?.intValue, 257, "other tokenizer keys are copied")

        // F16 weights with the requested spread: N(0, 0.02) over 300 × 64 values.
        let embedding = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embedding.type, .f16)
        let halves = file.bytes(for: embedding).bindMemory(to: UInt16.self)
        let values = halves.map { Double(halfToFloat($0)) }
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.001)
        XCTAssertEqual(sd, 0.02, accuracy: 0.001)

        let model = try LanguageModel(path: path)
        XCTAssertEqual(model.config.vocabularySize, 300)
        let session = try model.makeSession(contextLength: 16, pool: ThreadPool(threadCount: 2))
        let logits = Array(try session.evaluate([1, 2, 299]))
        XCTAssertEqual(logits.count, 300)
        XCTAssertTrue(logits.allSatisfy(\.isFinite))
    }

    /// The same seed gives the same bytes; another seed or another tensor name does not, and
    /// chunked generation does not depend on the thread count (values are per chunk).
    func testRandomValuesAreDeterministicPerSeedAndName() {
        let count = (1 << 20) + 3  // two chunks, the last one odd
        XCTAssertEqual(BenchmarkShape.randomHalves(count: count, seed: 1), BenchmarkShape.randomHalves(count: count, seed: 1))
        XCTAssertNotEqual(BenchmarkShape.randomHalves(count: 64, seed: 1), BenchmarkShape.randomHalves(count: 64, seed: 2))
        XCTAssertNotEqual(BenchmarkShape.hash("blk.0.attn_q.weight"), BenchmarkShape.hash("blk.1.attn_q.weight"))
        XCTAssertEqual(BenchmarkShape.normals(count: 5, seed: 3).count, 5)
    }

    func testVocabularySmallerThanTheTokenizerIsAnError() throws {
        let shape = BenchmarkShape(name: "small-vocab", architecture: "llama", hidden: 32, feedForward: 48, heads: 4,
                                   kvHeads: 2, vocabulary: 100, layers: 1, tiedOutput: false)
        try withTokenizerAndOutput { tokenizer, path in
            XCTAssertThrowsError(try shape.writeRandomModel(to: path, layers: 1, tokenizer: tokenizer)) { error in
                XCTAssertTrue("\(error)".contains("258 tokens, more than the small-vocab vocabulary of 100"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        }
        XCTAssertEqual(BenchmarkShape.named("llama3-8b")?.vocabulary, 128_256)
        XCTAssertNil(BenchmarkShape.named("llama3-70b"))
    }
}
