import Foundation
import XCTest
import LoomEval

final class NeedleTests: XCTestCase {
    func testNeedlePlacementAndLength() throws {
        let model = try EvalFixtures.model()
        let text = try String(contentsOfFile: try EvalFixtures.dataset("haystack.txt"), encoding: .utf8)
        let haystack = try NeedleHaystack(text: text, tokenizer: model.tokenizer, maxTokens: 5000)
        XCTAssertGreaterThanOrEqual(haystack.tokens.count, 5000)
        let needle = NeedleHaystack.needle("12345678")
        for depth in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let index = haystack.insertionIndex(count: 1000, depth: depth)
            XCTAssertLessThanOrEqual(index, Int(1000 * depth))
            if depth == 1 { XCTAssertEqual(index, 1000) }
            if index > 0 && index < 1000 {
                XCTAssertTrue(model.tokenizer.decode([haystack.tokens[index - 1]]).hasSuffix("."), "depth \(depth)")
                XCTAssertGreaterThan(index, Int(1000 * depth) - 200, "needle moved too far back at depth \(depth)")
            }
            let (context, offset) = haystack.context(count: 1000, depth: depth, needle: needle)
            XCTAssertEqual(context.components(separatedBy: needle).count, 2)
            let fraction = Double(offset) / Double(context.count)
            XCTAssertEqual(fraction, depth, accuracy: 0.15, "needle at \(fraction) for depth \(depth)")
            let count = model.tokenizer.encode(context, addSpecial: false).count
            XCTAssertEqual(Double(count), 1000 + 12, accuracy: 12, "context of \(count) tokens")
        }
        XCTAssertEqual(haystack.context(count: 1000, depth: 0, needle: needle).text.prefix(needle.count), Substring(needle))
    }

    func testExactMatchScoring() {
        XCTAssertTrue(NeedleHaystack.isCorrect(answer: "The special magic number is 48213907.", expected: "48213907"))
        XCTAssertTrue(NeedleHaystack.isCorrect(answer: "48213907", expected: "48213907"))
        XCTAssertFalse(NeedleHaystack.isCorrect(answer: "4821390", expected: "48213907"))
        XCTAssertFalse(NeedleHaystack.isCorrect(answer: "482139071", expected: "48213907"))
        XCTAssertFalse(NeedleHaystack.isCorrect(answer: "I don't know", expected: "48213907"))
        XCTAssertFalse(NeedleHaystack.isCorrect(answer: "12345678 or 48213907", expected: "48213907"))
    }

    func testPromptFitsLengthAndHeatmapRenders() throws {
        let model = try EvalFixtures.model()
        let text = try String(contentsOfFile: try EvalFixtures.dataset("haystack.txt"), encoding: .utf8)
        let evaluator = try NeedleEvaluator(model: model, haystackText: text,
                                            options: NeedleOptions(lengths: [256], depths: [0.5], samples: 1, maxAnswerTokens: 12))
        let report = try evaluator.run()
        XCTAssertEqual(report.trials.count, 1)
        XCTAssertLessThanOrEqual(report.trials[0].promptTokens, 256)
        XCTAssertGreaterThan(report.trials[0].promptTokens, 200)
        XCTAssertEqual(report.trials[0].needle.count, 8)
        let svg = NeedleHeatmap.svg(report)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("50%"))
        XCTAssertTrue(svg.contains(">256<"))
    }
}
