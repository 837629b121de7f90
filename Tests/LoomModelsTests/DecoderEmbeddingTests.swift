import Foundation
import LoomKernels
import XCTest
@testable import LoomModels

/// Pooled decoder embeddings (`InferenceSession.embedding(of:pooling:)`) against llama.cpp's
/// (`llama-cpp-python`, `embedding=True` with `LLAMA_POOLING_TYPE_MEAN`/`LAST`;
/// scripts/gen_embedding_fixtures.py) on both test models, for the same token ids.
/// llama.cpp multiplies with 8-bit activations where Loom's prompt rows keep f32, so the
/// vectors agree closely but not bit for bit: cosine ≥ 0.999 is required.
final class DecoderEmbeddingTests: XCTestCase {
    static let catalogNames = ["SmolLM2-135M-Instruct.Q4_1.gguf": "smollm2", "Qwen2.5-Coder-0.5B-Instruct.gguf": "qwen2.5-0.5b"]

    func testPooledHiddenStatesMatchLlamaCpp() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "decoder_embeddings", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let models = try XCTUnwrap(fixture["models"] as? [[String: Any]])
        XCTAssertEqual(models.count, 2)
        for entry in models {
            let file = try XCTUnwrap(entry["file"] as? String)
            let model = try LanguageModel(path: TestModels.path(try XCTUnwrap(Self.catalogNames[file])))
            XCTAssertEqual(model.config.embeddingSize, entry["dimension"] as? Int)
            let session = try model.makeSession(contextLength: 512, pool: ThreadPool(threadCount: 2))
            for item in try XCTUnwrap(entry["items"] as? [[String: Any]]) {
                let ids = try XCTUnwrap(item["ids"] as? [Int])
                for pooling in [EmbeddingPooling.mean, .last] {
                    let expected = try XCTUnwrap(item[pooling.rawValue] as? [Double])
                    let vector = try session.embedding(of: ids, pooling: pooling)
                    let cosine = VectorOps.cosineSimilarity(vector, expected.map(Float.init))
                    XCTAssertGreaterThanOrEqual(cosine, 0.999, "\(file) \(pooling) \(ids.count) tokens: cosine \(cosine)")
                }
            }
        }
    }

    /// The pooled vector does not depend on what the session held before, nor on
    /// normalisation beyond scale; `cls` is the first token's state; bad input is refused
    /// with the session's named errors.
    func testEmbeddingIsStatelessAndChecked() throws {
        let model = try LanguageModel(path: TestModels.path("smollm2"))
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2))
        let ids = model.tokenizer.encode("Embeddings pool the last layer.", addSpecial: false)
        let first = try session.embedding(of: ids, pooling: .mean)
        _ = try session.evaluate(model.tokenizer.encode("Something else entirely, first.", addSpecial: false))
        XCTAssertEqual(try session.embedding(of: ids, pooling: .mean), first)
        var raw = try session.embedding(of: ids, pooling: .mean, normalize: false)
        VectorOps.normalizeL2(&raw)
        XCTAssertEqual(raw, first)
        let cls = try session.embedding(of: ids, pooling: .cls)
        XCTAssertEqual(cls, try session.embedding(of: [ids[0]], pooling: .last), "cls = the first token alone (causal attention)")
        XCTAssertThrowsError(try session.embedding(of: [], pooling: .mean)) { XCTAssertEqual($0 as? ModelError, .emptyInput) }
        XCTAssertThrowsError(try session.embedding(of: [Int](repeating: 5, count: 65), pooling: .mean)) {
            XCTAssertEqual($0 as? ModelError, .contextFull(needed: 65, capacity: 64))
        }
    }
}
