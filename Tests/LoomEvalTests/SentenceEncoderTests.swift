import Foundation
import LoomGeneration
import LoomHub
import LoomKernels
import LoomModels
import XCTest
@testable import LoomEval

/// all-MiniLM-L6-v2 sentence embeddings against the `sentence-transformers` package
/// (scripts/gen_embedding_fixtures.py): the same ids, cosine ≥ 0.9999 for every text,
/// truncation at the model's 256 tokens included.
final class SentenceEncoderTests: XCTestCase {
    static let encoder: Result<SentenceEncoder, Error> = Result {
        try SentenceEncoder(path: ModelStore().resolve("minilm", progress: .silent))
    }

    func testEmbeddingsMatchSentenceTransformers() throws {
        let encoder = try Self.encoder.get()
        let fixture = try EvalFixtures.json("minilm_embeddings")
        XCTAssertEqual(encoder.maxTokens, fixture["max_seq_length"] as? Int)
        XCTAssertEqual(encoder.dimension, fixture["dimension"] as? Int)
        XCTAssertEqual(encoder.name, "all-MiniLM-L6-v2")
        let items = try XCTUnwrap(fixture["items"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(items.count, 10)
        var truncated = false
        for item in items {
            let text = try XCTUnwrap(item["text"] as? String)
            let ids = try XCTUnwrap(item["ids"] as? [Int])
            let expected = try XCTUnwrap(item["embedding"] as? [Double])
            XCTAssertEqual(encoder.tokenize(text), ids, text)
            let (vector, count) = try encoder.embed(text)
            XCTAssertEqual(count, ids.count)
            truncated = truncated || count == encoder.maxTokens
            let cosine = VectorOps.cosineSimilarity(vector, expected.map(Float.init))
            XCTAssertGreaterThanOrEqual(cosine, 0.9999, "\(text.prefix(40)): cosine \(cosine)")
            let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        XCTAssertTrue(truncated, "the fixture must pin truncation with a text longer than 256 tokens")
    }

    /// `cls` pooling is the `[CLS]` row of the last layer; mean is the average of every row.
    func testPoolingModes() throws {
        let base = try Self.encoder.get()
        let cls = try SentenceEncoder(model: base.model, maxTokens: 256, pooling: .cls, name: "cls")
        let ids = base.tokenize("Pooling picks one row or averages them.")
        let states = try base.model.hiddenStates(ids: ids)
        let d = base.dimension
        XCTAssertEqual(try cls.embed(tokens: ids, normalize: false), Array(states[0..<d]))
        let mean = try base.embed(tokens: ids, normalize: false)
        for i in stride(from: 0, to: d, by: 37) {
            let expected = (0..<ids.count).reduce(0.0) { $0 + Double(states[$1 * d + i]) } / Double(ids.count)
            XCTAssertEqual(Double(mean[i]), expected, accuracy: 1e-6)
        }
        XCTAssertThrowsError(try SentenceEncoder(model: base.model, maxTokens: 256, pooling: .last, name: "x"))
        XCTAssertThrowsError(try SentenceEncoder(model: base.model, maxTokens: 513, name: "x"))
    }

    /// Token-id input is checked, never truncated: empty, too long or outside the vocabulary
    /// is an ``EmbeddingError`` naming the problem.
    func testBadTokenInput() throws {
        let encoder = try Self.encoder.get()
        XCTAssertThrowsError(try encoder.embed(tokens: [], normalize: true)) { XCTAssertEqual($0 as? EmbeddingError, .emptyInput) }
        XCTAssertThrowsError(try encoder.embed(tokens: [Int](repeating: 1000, count: 257), normalize: true)) {
            XCTAssertEqual($0 as? EmbeddingError, .tooLong(tokens: 257, limit: 256))
        }
        XCTAssertThrowsError(try encoder.embed(tokens: [101, 30522], normalize: true)) {
            XCTAssertEqual($0 as? EmbeddingError, .tokenOutOfRange(token: 30522, vocabularySize: 30522))
        }
    }

    /// A sentence-transformers directory's own settings win: `max_seq_length` from
    /// `sentence_bert_config.json`, the mode from `1_Pooling/config.json`; an unsupported
    /// mode is an error naming it.
    func testSentenceTransformersSettings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"max_seq_length": 128, "do_lower_case": false}"#.utf8).write(to: dir.appendingPathComponent("sentence_bert_config.json"))
        let pooling = dir.appendingPathComponent("1_Pooling/config.json")
        try Data(#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#.utf8).write(to: pooling)
        let settings = try SentenceEncoder.sentenceTransformersSettings(in: dir.path)
        XCTAssertEqual(settings.maxSequenceLength, 128)
        XCTAssertEqual(settings.pooling, .cls)
        try Data(#"{"pooling_mode_max_tokens": true}"#.utf8).write(to: pooling)
        XCTAssertThrowsError(try SentenceEncoder.sentenceTransformersSettings(in: dir.path)) {
            XCTAssertTrue("\($0)".contains("pooling_mode_max_tokens"), "\($0)")
        }
        XCTAssertEqual(try SentenceEncoder.sentenceTransformersSettings(in: dir.deletingLastPathComponent().path).maxSequenceLength, nil)
    }
}
