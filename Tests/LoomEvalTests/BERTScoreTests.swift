import Foundation
import LoomFormats
import LoomHub
import XCTest
@testable import LoomEval

/// WordPiece ids and BERTScore P/R/F1 against the `bert_score` package on all-MiniLM-L6-v2
/// (scripts/gen_bertscore_fixtures.py).
final class BERTScoreTests: XCTestCase {
    static let scorerPath: String? = try? ModelStore().resolve("minilm", progress: .silent)

    func path() throws -> String {
        try XCTUnwrap(Self.scorerPath, "the minilm model could not be fetched")
    }

    func testWordPieceIDsMatchTheReferenceTokenizer() throws {
        let fixture = try EvalFixtures.json("bertscore_reference")
        let files = try BertCheckpointFiles(path: try path())
        let tokenizer = try WordPieceTokenizer(path: files.vocabulary)
        let cases = fixture["wordpiece"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 50)
        // The same vocabulary as a BERT vocab.txt (one token per line) must tokenize identically.
        let vocabURL = FileManager.default.temporaryDirectory.appendingPathComponent("loom-vocab-\(UUID().uuidString).txt")
        try Data((tokenizer.tokens.joined(separator: "\n") + "\n").utf8).write(to: vocabURL)
        defer { try? FileManager.default.removeItem(at: vocabURL) }
        let fromText = try WordPieceTokenizer(path: vocabURL.path)
        for c in cases {
            let text = c["text"] as! String
            XCTAssertEqual(tokenizer.encode(text), c["ids"] as! [Int], text.debugDescription)
            XCTAssertEqual(fromText.encode(text), c["ids"] as! [Int], "vocab.txt: " + text.debugDescription)
        }
    }

    func testScoresMatchBertScorePackage() throws {
        let fixture = try EvalFixtures.json("bertscore_reference")
        let pairs = fixture["pairs"] as! [[String: String]]
        XCTAssertGreaterThanOrEqual(pairs.count, 24)
        let candidates = pairs.map { $0["candidate"]! }, references = pairs.map { $0["reference"]! }
        let model = try BertModel(path: try path())
        let tokenizer = try WordPieceTokenizer(path: model.files.vocabulary)
        var worst = 0.0
        for run in fixture["runs"] as! [[String: Any]] {
            let layer = run["layer"] as! Int, idf = run["idf"] as! Bool
            let baseline = (run["baseline"] as? [Double]).map { BERTScoreBaseline(precision: $0[0], recall: $0[1], f1: $0[2]) }
            let scorer = try BERTScorer(model: model, tokenizer: tokenizer, layer: layer, baseline: baseline)
            let scores = try scorer.score(candidates: candidates, references: references, idf: idf)
            let expected = (run["P"] as! [Double], run["R"] as! [Double], run["F"] as! [Double])
            // One pair at a time there is no padding, so the maxima (hence P and R) can only be lower.
            let single = try zip(candidates, references).map { try scorer.score(candidate: $0, reference: $1, idf: idf ? scorer.idf(references: references) : nil) }
            for (one, batched) in zip(single, scores) where baseline == nil {
                XCTAssertLessThanOrEqual(one.precision, batched.precision + 1e-9)
                XCTAssertLessThanOrEqual(one.recall, batched.recall + 1e-9)
            }
            for (i, s) in scores.enumerated() {
                let label = "layer \(layer) idf \(idf) baseline \(baseline != nil) pair \(i)"
                for (got, want) in [(s.precision, expected.0[i]), (s.recall, expected.1[i]), (s.f1, expected.2[i])] {
                    XCTAssertEqual(got, want, accuracy: 1e-3, label)
                    worst = max(worst, abs(got - want))
                }
            }
        }
        print("BERTScore max |Δ| vs bert_score: \(worst)")
        XCTAssertLessThan(worst, 1e-4, "agreement should be at float rounding level")
    }

    func testLayerZeroIsTheEmbeddingOutputAndLayersAreChecked() throws {
        let model = try BertModel(path: try path())
        let ids = [101, 7592, 2088, 102]
        let h0 = try model.hiddenStates(ids: ids, layers: 0)
        XCTAssertEqual(h0.count, ids.count * model.config.hiddenSize)
        // LayerNorm output with weight ≈ 1-ish, bias: finite, not all equal.
        XCTAssertTrue(h0.allSatisfy { $0.isFinite })
        XCTAssertThrowsError(try model.hiddenStates(ids: ids, layers: 7))
        XCTAssertThrowsError(try model.hiddenStates(ids: [101, 99_999, 102]))
        XCTAssertThrowsError(try model.hiddenStates(ids: Array(repeating: 1000, count: 513)))
    }

    func testIDFWeightsFollowBertScore() {
        let idf = IDFWeights(encodedReferences: [[101, 5, 6, 6, 102], [101, 5, 102]])
        XCTAssertEqual(idf.weight(101), 0, accuracy: 1e-12)
        XCTAssertEqual(idf.weight(5), 0, accuracy: 1e-12)
        XCTAssertEqual(idf.weight(6), log(3.0 / 2.0), accuracy: 1e-12)
        XCTAssertEqual(idf.weight(7), log(3.0), accuracy: 1e-12)
    }

    func testBadFilesAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bert-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try BertCheckpointFiles(path: dir.path)) { XCTAssertTrue("\($0)".contains("model.safetensors"), "\($0)") }
        let config = dir.appendingPathComponent("config.json")
        try Data(#"{"hidden_size": 384, "num_hidden_layers": 2}"#.utf8).write(to: config)
        XCTAssertThrowsError(try BertConfig(path: config.path)) { XCTAssertTrue("\($0)".contains("vocab_size"), "\($0)") }
        try Data(#"{"vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"hidden_act":"relu"}"#.utf8).write(to: config)
        XCTAssertThrowsError(try BertConfig(path: config.path)) { XCTAssertTrue("\($0)".contains("hidden_act"), "\($0)") }
        let tok = dir.appendingPathComponent("tokenizer.json")
        try Data(#"{"model": {"type": "BPE", "vocab": {}}}"#.utf8).write(to: tok)
        XCTAssertThrowsError(try WordPieceTokenizer(path: tok.path)) { XCTAssertTrue("\($0)".contains("WordPiece"), "\($0)") }
        try Data("{".utf8).write(to: tok)
        XCTAssertThrowsError(try WordPieceTokenizer(path: tok.path)) { XCTAssertTrue("\($0)".contains("tokenizer.json"), "\($0)") }
    }
}
