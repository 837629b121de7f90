import Foundation
import XCTest
import LoomEval
import LoomModels

final class PerplexityTests: XCTestCase {
    /// Loom's perplexity equals the numpy float64 reference (scripts/gen_perplexity_fixtures.py).
    func testMatchesFloatReference() throws {
        let fixture = try EvalFixtures.json("perplexity_reference")
        let model = try EvalFixtures.model()
        let ctx = fixture["ctx"] as! Int, chunks = fixture["chunks"] as! Int
        let evaluator = try PerplexityEvaluator(model: model, options: PerplexityOptions(contextLength: ctx, chunkLimit: chunks))
        let text = try String(contentsOfFile: try EvalFixtures.dataset("haystack.txt"), encoding: .utf8)
        let tokens = evaluator.tokenize(text)
        XCTAssertEqual(tokens, fixture["tokens"] as! [Int], "tokenisation differs from the HF tokenizer")
        let report = try evaluator.run(tokens: tokens)
        XCTAssertEqual(report.chunks, chunks)
        XCTAssertEqual(report.scoredTokens, chunks * (ctx - 1 - ctx / 2))
        let ppl = fixture["ppl"] as! Double, err = fixture["ppl_err"] as! Double
        XCTAssertEqual(report.perplexity, ppl, accuracy: ppl * 0.003)
        XCTAssertEqual(report.perplexityError, err, accuracy: err * 0.01)
        if let llama = fixture["llama_cpp"] as? [String: Any], let lppl = llama["ppl"] as? Double {
            XCTAssertEqual(report.perplexity, lppl, accuracy: lppl * 0.01)
        }
    }

    func testTooShortTextIsRejected() throws {
        let evaluator = try PerplexityEvaluator(model: try EvalFixtures.model(), options: PerplexityOptions(contextLength: 64))
        XCTAssertThrowsError(try evaluator.run(tokens: Array(repeating: 5, count: 100))) { error in
            XCTAssertEqual(error as? EvalError, .notEnoughTokens(have: 100, need: 128, context: 64))
        }
        XCTAssertThrowsError(try PerplexityEvaluator(model: try EvalFixtures.model(), options: PerplexityOptions(contextLength: 7)))
    }

    /// KLD of a model against its own saved distributions is ~0 with 100 % same top token;
    /// a perturbed run (first token of each chunk replaced by BOS, changing every
    /// distribution) gives KLD > 0.
    func testKLDivergence() throws {
        let model = try EvalFixtures.model()
        let text = try String(contentsOfFile: try EvalFixtures.dataset("haystack.txt"), encoding: .utf8)
        let options = PerplexityOptions(contextLength: 64, chunkLimit: 2, replaceFirstWithBOS: false)
        let base = try PerplexityEvaluator(model: model, options: options)
        let path = NSTemporaryDirectory() + "loom-kld-\(UUID().uuidString).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let baseReport = try base.run(tokens: base.tokenize(text), baseOutput: path)
        let header = try LogProbFileReader(path: path).header
        XCTAssertEqual(header.contextLength, 64)
        XCTAssertEqual(header.chunkCount, 2)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber
        XCTAssertEqual(size.intValue, 20 + 4 * 128 + 2 * 31 * header.recordLength * 2)

        let same = try base.run(tokens: [], baseInput: try LogProbFileReader(path: path))
        let kld = try XCTUnwrap(same.kld)
        XCTAssertEqual(kld.positions, 62)
        XCTAssertLessThan(abs(kld.meanKLD), 1e-4)
        XCTAssertEqual(kld.sameTopRate, 1)
        XCTAssertEqual(kld.basePerplexity, baseReport.perplexity, accuracy: baseReport.perplexity * 1e-3)

        var perturbedOptions = options
        perturbedOptions.replaceFirstWithBOS = true
        let perturbed = try PerplexityEvaluator(model: model, options: perturbedOptions)
        let other = try XCTUnwrap(try perturbed.run(tokens: [], baseInput: try LogProbFileReader(path: path)).kld)
        XCTAssertGreaterThan(other.meanKLD, 1e-3)
        XCTAssertGreaterThan(other.kldPercentiles["max"]!, other.kldPercentiles["median"]!)
    }

    func testCorruptBaseFileIsReported() throws {
        let path = NSTemporaryDirectory() + "loom-kld-bad-\(UUID().uuidString).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("not a logits file at all".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try LogProbFileReader(path: path)) { error in
            XCTAssertTrue("\(error)".contains("magic"), "\(error)")
        }
    }
}
