import Foundation
import XCTest
@testable import LoomEval

/// Properties of the shipped datasets that must not regress, and how bad dataset lines are
/// reported (line numbers; skipped, or fatal with `strict`).
final class DatasetTests: XCTestCase {
    /// The MC set must not be solvable by picking the longest choice, and the correct letter
    /// must be spread evenly over A–D.
    func testMultipleChoiceSetIsNotLengthBiased() throws {
        let (items, issues) = try MultipleChoiceItem.load(path: try EvalFixtures.dataset("crypto_mc.jsonl"), strict: true)
        XCTAssertTrue(issues.isEmpty)
        XCTAssertGreaterThanOrEqual(items.count, 80)
        XCTAssertEqual(Set(items.map(\.id)).count, items.count, "ids must be unique")
        XCTAssertEqual(Set(items.map(\.category)).count, 6)
        var longestIsCorrect = 0, shortestIsCorrect = 0
        var lengthRanks = [Int](repeating: 0, count: 4)
        var letters = [Int](repeating: 0, count: 4)
        for item in items {
            XCTAssertEqual(item.choices.count, 4, item.id)
            XCTAssertEqual(Set(item.choices).count, 4, "\(item.id): duplicate choices")
            let lengths = item.choices.map(\.count)
            if lengths[item.answer] == lengths.max() { longestIsCorrect += 1 }
            if lengths[item.answer] == lengths.min() { shortestIsCorrect += 1 }
            letters[item.answer] += 1
            lengthRanks[lengths.filter { $0 > lengths[item.answer] }.count] += 1
        }
        // Raw log-likelihood favours short choices, acc_norm long ones: the correct choice's
        // length rank must be spread so neither heuristic beats chance by much.
        for (rank, count) in lengthRanks.enumerated() {
            XCTAssertLessThanOrEqual(Double(count) / Double(items.count), 0.35, "the correct choice has length rank \(rank) in \(count) questions")
        }
        let n = Double(items.count)
        XCTAssertLessThanOrEqual(Double(longestIsCorrect) / n, 0.30, "the correct choice is the longest in \(longestIsCorrect) of \(items.count)")
        XCTAssertLessThanOrEqual(Double(shortestIsCorrect) / n, 0.30, "the correct choice is the shortest in \(shortestIsCorrect) of \(items.count)")
        for (letter, count) in letters.enumerated() {
            XCTAssertEqual(Double(count) / n, 0.25, accuracy: 0.05, "letter \(["A", "B", "C", "D"][letter]) is correct \(count) times")
        }
    }

    func testQASetLoadsCleanly() throws {
        let (items, issues) = try QAItem.load(path: try EvalFixtures.dataset("crypto_qa.jsonl"), strict: true)
        XCTAssertTrue(issues.isEmpty)
        XCTAssertGreaterThanOrEqual(items.count, 80)
        XCTAssertEqual(Set(items.map(\.id)).count, items.count)
        XCTAssertEqual(Set(items.map(\.category)).count, 6)
        XCTAssertTrue(items.allSatisfy { $0.system != nil })
    }

    func testBadQALinesAreReportedByNumber() throws {
        let text = """
        {"id":"a","question":"What is a DAO?","answer":"An organisation run by token votes."}
        {"id":"b","question":"What is gas?"}
        {"id":"c","question":"What is TVL?","answer":"   "}
        {"id":"d","question":"What is a fork?","answer":"A split."

        ["not", "an", "object"]
        {"id":"e","question":42,"answer":"x"}
        {"id":"f","question":"What is KYC?","answer":"Know your customer."}
        """
        let path = try write(text, "qa")
        let (items, issues) = try QAItem.load(path: path)
        XCTAssertEqual(items.map(\.id), ["a", "f"])
        XCTAssertEqual(issues.map(\.line), [2, 3, 4, 6, 7])
        XCTAssertTrue(issues[0].reason.contains("missing field \"answer\""), issues[0].reason)
        XCTAssertTrue(issues[1].reason.contains("\"answer\" is empty"), issues[1].reason)
        XCTAssertTrue(issues[2].reason.contains("malformed JSON"), issues[2].reason)
        XCTAssertTrue(issues[3].reason.contains("not a JSON object"), issues[3].reason)
        XCTAssertTrue(issues[4].reason.contains("\"question\" is not a string"), issues[4].reason)
        XCTAssertThrowsError(try QAItem.load(path: path, strict: true)) { error in
            XCTAssertEqual(error as? EvalError, .dataset(path: path, line: 2, reason: "missing field \"answer\""))
        }
    }

    func testBadMultipleChoiceFileStrictAndLenient() throws {
        let text = """
        {"question":"Q1","choices":["a","b","c","d"],"answer":"C"}
        {"question":"Q2","choices":["a","","c","d"],"answer":0}
        {"question":"Q3","choices":"abcd","answer":0}
        {"question":"Q4","choices":["a","b"],"answer":"?"}
        """
        let path = try write(text, "mc")
        let (items, issues) = try MultipleChoiceItem.load(path: path)
        XCTAssertEqual(items.map(\.answer), [2])
        XCTAssertEqual(issues.map(\.line), [2, 3, 4])
        XCTAssertThrowsError(try MultipleChoiceItem.load(path: path, strict: true)) { error in
            XCTAssertEqual(error as? EvalError, .dataset(path: path, line: 2, reason: "choice 1 is empty"))
        }
    }

    func testFileWithNoUsableRecordsOrMissingFileFails() throws {
        let path = try write("{\"question\":\"x\"}\n\n", "qa-empty")
        XCTAssertThrowsError(try QAItem.load(path: path)) { XCTAssertEqual($0 as? EvalError, .emptyDataset(path: path)) }
        XCTAssertThrowsError(try QAItem.load(path: path + ".missing")) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
    }

    private func write(_ text: String, _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-\(name)-\(UUID().uuidString).jsonl")
        try Data(text.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }
}
