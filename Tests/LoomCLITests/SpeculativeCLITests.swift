import Foundation
import XCTest

/// `loom run` / `loom chat` / `loom serve` with `--lookup` and `--model-draft`.
final class SpeculativeCLITests: XCTestCase {
    func loom(_ arguments: String...) throws -> LoomProcess.Output {
        try LoomProcess.run(arguments)
    }

    static let copyPrompt = "Repeat this sentence exactly: The train to Lyon leaves from platform four at 7:42 and arrives shortly after noon, stopping twice."

    /// The greedy answer with prompt lookup is the plain one on this prompt (it has no
    /// near-tie; see SpeculativeDecodingTests for how close answers are in general), and
    /// `--stats` reports the drafts.
    func testLookupAndDraftModelRuns() throws {
        let plain = try loom("run", "-p", Self.copyPrompt, "--temperature", "0", "--max-tokens", "40")
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let lookup = try loom("run", "-p", Self.copyPrompt, "--temperature", "0", "--max-tokens", "40", "--lookup", "--stats")
        XCTAssertEqual(lookup.status, 0, lookup.stderr)
        XCTAssertEqual(lookup.stdout, plain.stdout)
        XCTAssertTrue(lookup.stderr.contains("speculative: drafted"), lookup.stderr)
        XCTAssertTrue(lookup.stderr.contains("tokens per forward pass"), lookup.stderr)
        let draft = try loom("run", "-p", Self.copyPrompt, "--temperature", "0", "--max-tokens", "40", "-md", "smollm2",
                             "--draft-max", "4", "--draft-p-min", "0", "--stats")
        XCTAssertEqual(draft.status, 0, draft.stderr)
        XCTAssertFalse(draft.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        XCTAssertTrue(draft.stderr.contains("speculative: drafted"), draft.stderr)
        let chat = try loom("chat", "-p", Self.copyPrompt, "--temperature", "0", "--max-tokens", "40", "--lookup", "--draft-max", "6",
                            "--stats")
        XCTAssertEqual(chat.status, 0, chat.stderr)
        XCTAssertTrue(chat.stderr.contains("speculative: drafted"), chat.stderr)
    }

    func testBadSpeculativeFlagsAreNamed() throws {
        for (arguments, expected) in [
            (["run", "-p", "hi", "--draft-max", "4"], "--draft-max needs --lookup or --model-draft"),
            (["run", "-p", "hi", "--lookup", "-md", "smollm2"], "exclude each other"),
            (["run", "-p", "hi", "--lookup", "--draft-max", "0"], "--draft-max must be in 1…14"),
            (["run", "-p", "hi", "--lookup", "--draft-max", "4", "--draft-min", "5"], "--draft-min"),
            (["run", "-p", "hi", "--lookup", "--lookup-ngram-min", "3", "--lookup-ngram-max", "2"], "--lookup-ngram"),
            (["run", "-p", "hi", "--lookup-ngram-max", "5"], "need --lookup"),
            (["run", "-p", "hi", "--lookup", "--draft-p-min", "0.5"], "--draft-p-min applies to --model-draft"),
            (["chat", "-p", "hi", "--model-draft", "smollm2", "--draft-p-min", "2"], "--draft-p-min must be in 0…1"),
            (["serve", "--model-draft", "smollm2"], "--model-draft is not supported by the server"),
        ] {
            let r = try LoomProcess.run(arguments)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
    }

    /// A draft model with another tokenizer is refused by name before anything is generated.
    func testIncompatibleDraftModelIsRefused() throws {
        let r = try loom("run", "-p", "hi", "--model-draft", "qwen2.5-0.5b")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("speculative decoding") && r.stderr.contains("vocabularies"), r.stderr)
        XCTAssertTrue(r.stdout.isEmpty, r.stdout)
    }
}
