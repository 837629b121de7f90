import Foundation
import XCTest

/// `loom run --prompt-cache FILE` (llama.cpp's flag): the second run reuses the first run's
/// evaluated prompt and answers exactly as it did.
final class PromptCacheCLITests: XCTestCase {
    func loom(_ arguments: String...) throws -> LoomProcess.Output {
        try LoomProcess.run(arguments)
    }

    func temporaryPath(_ name: String) -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-prompt-cache-\(UUID().uuidString)-\(name)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    static let document = (1...60).map { "Entry \($0): the ledger moved \($0 * 13) coins from wallet \($0) to wallet \($0 + 1)." }
        .joined(separator: "\n") + "\nQuestion: how many coins did entry 7 move?"

    func testSecondRunReusesThePromptAndAnswersTheSame() throws {
        let cache = temporaryPath("doc.bin")
        let first = try loom("run", "-p", Self.document, "--prompt-cache", cache, "--temperature", "0", "--max-tokens", "12", "--stats")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("prompt cache: 0 of "), first.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache))

        let second = try loom("run", "-p", Self.document, "--prompt-cache", cache, "--prompt-cache-ro",
                              "--temperature", "0", "--max-tokens", "12", "--stats")
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout, first.stdout)
        let reused = try XCTUnwrap(second.stderr.range(of: #"prompt cache: (\d+) of (\d+)"#, options: .regularExpression)
            .map { String(second.stderr[$0]) }, second.stderr)
        let numbers = reused.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        XCTAssertEqual(numbers.count, 2, reused)
        // Everything but the last two prompt tokens comes from the cache, and the answer is
        // the same: prompt rows get the same logits however the prompt is chunked.
        XCTAssertGreaterThanOrEqual(numbers[0], 512, reused)
        XCTAssertEqual(numbers[0], numbers[1] - 2, reused)

        // A cache for another KV cache type is reported and ignored, the answer unchanged.
        let other = try loom("run", "-p", Self.document, "--prompt-cache", cache, "--prompt-cache-ro", "-ctk", "q8_0", "-ctv", "q8_0",
                             "--temperature", "0", "--max-tokens", "1")
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertTrue(other.stderr.contains("different KV cache types"), other.stderr)
    }

    func testAFileThatIsNotACacheIsNeverOverwritten() throws {
        let notes = temporaryPath("notes.txt")
        try Data("my notes\n".utf8).write(to: URL(fileURLWithPath: notes))
        let r = try loom("run", "-p", "Hello", "--prompt-cache", notes, "--max-tokens", "2")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not a Loom prompt cache"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: notes, encoding: .utf8), "my notes\n")
        let flags = try loom("run", "-p", "Hello", "--prompt-cache-ro")
        XCTAssertNotEqual(flags.status, 0)
        XCTAssertTrue(flags.stderr.contains("need --prompt-cache FILE"), flags.stderr)
    }
}
