import Foundation
import XCTest
@testable import LoomEval

final class MultipleChoiceTests: XCTestCase {
    /// Per-choice log-likelihoods equal the numpy reference's (scripts/gen_mc_fixtures.py).
    func testMatchesReferenceLogLikelihoods() throws {
        let fixture = try EvalFixtures.json("mc_reference")
        let (items, issues) = try MultipleChoiceItem.load(path: try EvalFixtures.dataset("crypto_mc.jsonl"))
        XCTAssertTrue(issues.isEmpty)
        let evaluator = try MultipleChoiceEvaluator(model: try EvalFixtures.model(), contextLength: 256)
        for case let expected as [String: Any] in fixture["items"] as! [Any] {
            let item = try XCTUnwrap(items.first { $0.id == expected["id"] as? String })
            let choices = expected["choices"] as! [[String: Any]]
            let result = try evaluator.score(item)
            for (i, choice) in item.choices.enumerated() {
                let pair = evaluator.encodePair(context: MultipleChoiceEvaluator.context(for: item), continuation: " " + choice)
                XCTAssertEqual(pair.context, expected["context_ids"] as! [Int])
                XCTAssertEqual(pair.continuation, choices[i]["continuation"] as! [Int])
                let ll = choices[i]["loglikelihood"] as! Double
                XCTAssertEqual(result.scores[i].logLikelihood, ll, accuracy: 0.02 + abs(ll) * 0.002, "\(item.id) choice \(i)")
            }
            let lls = choices.map { $0["loglikelihood"] as! Double }
            XCTAssertEqual(result.predicted, lls.indices.max { lls[$0] < lls[$1] })
        }
    }

    func testMalformedLinesAreReportedByNumber() throws {
        let data = Data("""
        {"question":"Q1","choices":["a","b"],"answer":1}
        {"question":"Q2","choices":["a"],"answer":0}
        not json

        {"question":"","choices":["a","b"],"answer":0}
        {"question":"Q5","choices":["a","b"],"answer":"B","category":"x"}
        {"question":"Q6","choices":["a","b"],"answer":5}
        """.utf8)
        let (items, issues) = try JSONLines.read(data: data, path: "mc.jsonl", strict: false) { object, line in
            try MultipleChoiceItem(object: object, path: "mc.jsonl", line: line)
        }
        XCTAssertEqual(items.map(\.question), ["Q1", "Q5"])
        XCTAssertEqual(items[1].answer, 1)
        XCTAssertEqual(issues.map(\.line), [2, 3, 5, 7])
        XCTAssertThrowsError(try JSONLines.read(data: data, path: "mc.jsonl", strict: true) { o, l in try MultipleChoiceItem(object: o, path: "mc.jsonl", line: l) }) { error in
            XCTAssertEqual("\(error)".prefix(12), "mc.jsonl:2: ")
        }
    }
}

