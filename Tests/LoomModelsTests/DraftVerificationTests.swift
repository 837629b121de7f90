import Foundation
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// The session side of speculative decoding on a tiny synthetic model: every position's
/// logits from one verification batch, early stop, rollback of rejected positions, errors.
final class DraftVerificationTests: XCTestCase {
    func load() throws -> LanguageModel {
        var spec = SyntheticModel()
        let path = try spec.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try LanguageModel(path: path)
    }

    func session(_ model: LanguageModel, context: Int = 32) throws -> InferenceSession {
        try model.makeSession(contextLength: context, pool: ThreadPool(threadCount: 2))
    }

    func assertClose(_ a: [Float], _ b: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4, message, file: file, line: line)
    }

    /// A batch's per-position logits are those of evaluating the tokens one at a time.
    func testEveryPositionMatchesOneTokenSteps() throws {
        let model = try load()
        let prefix = [5, 17, 200, 33]
        let batch = [91, 7, 128, 64, 3]
        let verified = try session(model)
        try verified.evaluate(prefix)
        var got: [[Float]] = []
        try verified.evaluateDraft(batch) { i, logits in
            XCTAssertEqual(i, got.count)
            got.append(Array(logits))
            return true
        }
        XCTAssertEqual(verified.position, prefix.count + batch.count)
        let plain = try session(model)
        try plain.evaluate(prefix)
        for (i, token) in batch.enumerated() {
            assertClose(Array(try plain.evaluate([token])), got[i], "position \(i)")
        }
    }

    /// Returning false stops the callbacks; the session still holds the whole batch until
    /// the caller truncates it.
    func testEarlyStop() throws {
        let model = try load()
        let s = try session(model)
        try s.evaluate([1, 2, 3])
        var seen: [Int] = []
        try s.evaluateDraft([4, 5, 6, 7]) { i, _ in seen.append(i); return i < 1 }
        XCTAssertEqual(seen, [0, 1])
        XCTAssertEqual(s.position, 7)
    }

    /// Rejected draft positions leave no trace: after a rollback, what follows is evaluated as
    /// if they had never been, however many there were.
    func testRollbackForgetsRejectedPositions() throws {
        let model = try load()
        let prefix = [10, 20, 30, 40, 50]
        let reference = try session(model)
        try reference.evaluate(prefix + [60])
        let expected = Array(try reference.evaluate([70]))
        let expectedNext = Array(try reference.evaluate([80]))

        let s = try session(model)
        try s.evaluate(prefix)
        // 60 accepted, 61 62 63 rejected.
        try s.evaluateDraft([60, 61, 62, 63]) { _, _ in true }
        s.truncate(to: prefix.count + 1)
        XCTAssertEqual(s.position, prefix.count + 1)
        assertClose(Array(try s.evaluate([70])), expected, "after rollback")
        // A second round: a draft batch after the rollback, rolled back to nothing new.
        try s.evaluateDraft([80, 81, 82]) { _, _ in true }
        s.truncate(to: prefix.count + 2)
        assertClose(Array(try s.evaluate([80])), expectedNext, "after a second rollback and re-evaluation")
    }

    func testBadBatchesAreErrorsAndLeaveTheSessionUnchanged() throws {
        let model = try load()
        let s = try session(model, context: 8)
        try s.evaluate([1, 2, 3, 4, 5])
        XCTAssertThrowsError(try s.evaluateDraft([]) { _, _ in true }) { XCTAssertEqual($0 as? ModelError, .emptyInput) }
        XCTAssertThrowsError(try s.evaluateDraft([1, 2, 3, 4]) { _, _ in true }) {
            XCTAssertEqual($0 as? ModelError, .contextFull(needed: 9, capacity: 8))
        }
        XCTAssertThrowsError(try s.evaluateDraft([1, model.config.vocabularySize]) { _, _ in true }) {
            XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(token: 258, vocabularySize: 258))
        }
        XCTAssertEqual(s.position, 5)
        try s.evaluateDraft([6, 7, 8]) { _, _ in true }
        XCTAssertEqual(s.position, 8)
    }
}
