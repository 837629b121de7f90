import Foundation
import LoomTestSupport
import XCTest

/// The tiny HF BitNet checkpoints (scripts/gen_hf_bitnet_fixtures.py) through the commands a
/// user runs: they all load through the one model loader, so this is a smoke test of that
/// path end to end (the logits are checked against transformers in LoomModelsTests).
final class BitNetCLITests: XCTestCase {
    /// The fixture directories live with LoomModelsTests' resources, without their weight
    /// files: this is the materialised copy, weights generated from `weights.json` and verified.
    static let root = Result {
        try SyntheticFixture.materialize(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LoomModelsTests/Fixtures/hf_bitnet"))
    }

    static func fixture(_ name: String) throws -> String {
        try root.get().appendingPathComponent(name).path
    }

    func testRunChatPerplexityAndBenchOnHFBitNetDirectories() throws {
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("loom-bitnet-\(UUID().uuidString).txt").path
        try String(repeating: "the cat sat on the mat and the dog sat on the log. ", count: 8).write(toFile: text, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: text) }
        for name in ["llama_bitnet", "bitnet"] {
            let dir = try Self.fixture(name)
            let run = try LoomProcess.run(["run", "-m", dir, "--raw", "-p", "the cat", "--temperature", "0", "--max-tokens", "6", "-t", "2"])
            XCTAssertEqual(run.status, 0, "\(name) run: \(run.stderr)")
            XCTAssertFalse(run.stdout.isEmpty, name)
            let again = try LoomProcess.run(["run", "-m", dir, "--raw", "-p", "the cat", "--temperature", "0", "--max-tokens", "6", "-t", "1"])
            XCTAssertEqual(again.stdout, run.stdout, "\(name): greedy output must not depend on the thread count")
            let chat = try LoomProcess.run(["chat", "-m", dir, "-p", "hello", "--temperature", "0", "--max-tokens", "4", "-t", "2"])
            XCTAssertEqual(chat.status, 0, "\(name) chat: \(chat.stderr)")
            let ppl = try LoomProcess.run(["perplexity", "-m", dir, "-f", text, "--ctx", "32", "-t", "2"])
            XCTAssertEqual(ppl.status, 0, "\(name) perplexity: \(ppl.stderr)")
            XCTAssertTrue(ppl.stdout.lowercased().contains("perplexity") || ppl.stdout.contains("PPL"), ppl.stdout)
            let bench = try LoomProcess.run(["bench", "-m", dir, "-p", "8", "-n", "4", "-r", "1", "-t", "2", "--json"])
            XCTAssertEqual(bench.status, 0, "\(name) bench: \(bench.stderr)")
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any], bench.stdout)
            XCTAssertNotNil(json["tg"], bench.stdout)
        }
    }

    /// `loom convert` of an HF BitNet directory to GGUF arch bitnet, then `run` and `bench` on it.
    func testConvertBitNetToGGUFAndRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-bitnet-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for type in ["f32", "tq2_0"] {
            let out = dir + "/bitnet-\(type).gguf"
            let convert = try LoomProcess.run(["convert", try Self.fixture("bitnet"), "-o", out, "--type", type])
            XCTAssertEqual(convert.status, 0, convert.stderr)
            let run = try LoomProcess.run(["run", "-m", out, "--raw", "-p", "the cat", "--temperature", "0", "--max-tokens", "4", "-t", "2"])
            XCTAssertEqual(run.status, 0, "\(type) run: \(run.stderr)")
            let bench = try LoomProcess.run(["bench", "-m", out, "-p", "8", "-n", "4", "-r", "1", "-t", "2"])
            XCTAssertEqual(bench.status, 0, "\(type) bench: \(bench.stderr)")
        }
        let bad = try LoomProcess.run(["convert", try Self.fixture("bitnet"), "-o", dir + "/x.gguf", "--type", "tq3_0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("tq1_0, tq2_0"), bad.stderr)
    }
}
