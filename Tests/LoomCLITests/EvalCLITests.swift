import Foundation
import XCTest

/// `loom eval qa|mc` as a user runs them: bad datasets reported by line (continue or
/// `--strict`), flag validation, and a tiny QA run with BERTScore.
final class EvalCLITests: XCTestCase {
    func loom(_ arguments: String...) throws -> LoomProcess.Output {
        try LoomProcess.run(arguments)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-cli-\(name)-\(UUID().uuidString).jsonl")
        try Data(text.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    static let badQA = """
    {"id":"ok1","question":"What is a DAO?","answer":"An organisation governed by token holders' votes."}
    {"id":"bad2","question":"What is gas?"}
    {"id":"bad3","question":"What is TVL?","answer":""}
    {oops
    {"id":"ok5","question":"What does KYC stand for?","answer":"Know your customer: exchanges must check who their users are."}
    """

    func testQAReportsBadLinesAndScoresWithBERT() throws {
        let data = try write(Self.badQA, "qa")
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("loom-qa-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let run = try loom("eval", "qa", "--data", data, "--max-tokens", "8", "--bert-layer", "4", "--idf", "--json", json.path)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("\(data): line 2: missing field \"answer\" (skipped)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("line 3: field \"answer\" is empty"), run.stderr)
        XCTAssertTrue(run.stderr.contains("line 4: malformed JSON"), run.stderr)
        XCTAssertTrue(run.stdout.contains("| Model | Perplexity ↓ | BERT ↑ |"), run.stdout)
        XCTAssertTrue(run.stdout.contains("layer 4, idf on"), run.stdout)
        let reports = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [[String: Any]])
        XCTAssertEqual(reports.count, 1)
        let results = try XCTUnwrap(reports[0]["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["id"] as? String }, ["ok1", "ok5"])
        for result in results {
            let bert = try XCTUnwrap(result["bertScore"] as? [String: Any])
            let f1 = try XCTUnwrap(bert["f1"] as? Double, "\(bert)")
            XCTAssertGreaterThan(f1, 0)
            XCTAssertLessThanOrEqual(f1, 1)
        }

        let strict = try loom("eval", "qa", "--data", data, "--strict", "--no-generate")
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.contains("\(data):2: missing field \"answer\""), strict.stderr)
    }

    func testMultipleChoiceStrictAndLenient() throws {
        let data = try write("""
        {"question":"Which coin has the ticker ETH?","choices":["Bitcoin","Ether"],"answer":1}
        {"question":"Q2","choices":["a"],"answer":0}
        """, "mc")
        let lenient = try loom("eval", "mc", "--data", data)
        XCTAssertEqual(lenient.status, 0, lenient.stderr)
        XCTAssertTrue(lenient.stderr.contains("line 2: field \"choices\" must be an array of at least 2 strings (skipped)"), lenient.stderr)
        XCTAssertTrue(lenient.stdout.contains("| Model | n | acc ↑ | acc_norm ↑ |"), lenient.stdout)
        let strict = try loom("eval", "mc", "--data", data, "--strict")
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.contains("\(data):2: field \"choices\""), strict.stderr)
    }

    func testBadBERTFlagsAreRejected() throws {
        let data = try write(Self.badQA, "qa-flags")
        let baseline = try loom("eval", "qa", "--data", data, "--baseline", "0.8,1.2")
        XCTAssertNotEqual(baseline.status, 0)
        XCTAssertTrue(baseline.stderr.contains("--baseline"), baseline.stderr)
        let layer = try loom("eval", "qa", "--data", data, "--bert-layer", "9", "--max-tokens", "1")
        XCTAssertNotEqual(layer.status, 0)
        XCTAssertTrue(layer.stderr.contains("BERT layer 9 is outside 0…6"), layer.stderr)
        let model = try loom("eval", "qa", "--data", data, "--bert-model", "/no/such/bert", "--max-tokens", "1")
        XCTAssertNotEqual(model.status, 0)
        XCTAssertTrue(model.stderr.contains("/no/such/bert"), model.stderr)
    }
}
