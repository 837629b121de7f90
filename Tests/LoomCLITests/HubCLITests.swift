import Foundation
import XCTest

/// `hf:` references through the real `loom` executable, from a Hugging Face cache laid out by
/// hand (the hub itself cannot be reached here; `LoomHubTests/HubDownloadTests` drives the
/// download path against a loopback server): offline runs, `list`, `show`, `rm`, bad input.
final class HubCLITests: XCTestCase {
    private var home = ""
    private let commit = "0123456789abcdef0123456789abcdef01234567"

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("loom-hub-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: home)
    }

    private func loom(_ arguments: String..., offline: Bool = false) throws -> LoomProcess.Output {
        var environment = ["HF_HOME": home + "/hf", "HF_ENDPOINT": "http://127.0.0.1:9"]
        if offline { environment["HF_HUB_OFFLINE"] = "1" }
        return try LoomProcess.run(arguments, environment: environment)
    }

    /// Puts the default model into `models--loom-test--smol-GGUF` as huggingface_hub would.
    private func layOutCache() throws -> (repo: String, gguf: String) {
        let pulled = try loom("pull", "smollm2")
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
        let gguf = pulled.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let repo = home + "/hf/hub/models--loom-test--smol-GGUF"
        let fm = FileManager.default
        for dir in ["blobs", "refs", "snapshots/\(commit)"] { try fm.createDirectory(atPath: repo + "/" + dir, withIntermediateDirectories: true) }
        try fm.createSymbolicLink(atPath: repo + "/blobs/" + String(repeating: "ab", count: 32), withDestinationPath: gguf)
        try fm.createSymbolicLink(atPath: repo + "/snapshots/\(commit)/smol-Q4_1.gguf",
                                  withDestinationPath: "../../blobs/" + String(repeating: "ab", count: 32))
        try commit.write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)
        return (repo, gguf)
    }

    func testCachedHubModelRunsOfflineAndIsListedShownAndRemoved() throws {
        let (repo, gguf) = try layOutCache()
        let run = try loom("run", "-m", "hf:loom-test/smol-GGUF:q4_1", "--offline", "--raw", "-p", "Hello", "--max-tokens", "2", "--temperature", "0")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.stdout.isEmpty)

        let info = try loom("info", "hf:loom-test/smol-GGUF", offline: true)
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("snapshots/\(commit)/smol-Q4_1.gguf"), info.stdout)

        let list = try loom("list")
        XCTAssertEqual(list.status, 0, list.stderr)
        let row = list.stdout.split(separator: "\n").first { $0.hasPrefix("hf:loom-test/smol-GGUF/smol-Q4_1.gguf") }
        XCTAssertNotNil(row, list.stdout)
        XCTAssertTrue(row?.contains("Q4_1") == true && row?.contains("llama") == true, "\(row ?? "")")
        XCTAssertTrue(list.stdout.hasPrefix("NAME"), list.stdout)

        let show = try loom("show", "hf:loom-test/smol-GGUF:Q4_1", "--offline")
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("architecture") && show.stdout.contains("files:\n    smol-Q4_1.gguf"), show.stdout)

        let missingQuant = try loom("run", "-m", "hf:loom-test/smol-GGUF:Q8_0", "-p", "hi", offline: true)
        XCTAssertNotEqual(missingQuant.status, 0)
        XCTAssertTrue(missingQuant.stderr.contains("offline: hf:loom-test/smol-GGUF:Q8_0 is not fully cached"), missingQuant.stderr)

        let removed = try loom("rm", "hf:loom-test/smol-GGUF:Q4_1")
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo + "/snapshots/\(commit)/smol-Q4_1.gguf"))
        XCTAssertFalse(try loom("list").stdout.contains("hf:loom-test/smol-GGUF/"))
        XCTAssertEqual(try loom("rm", "hf:loom-test/smol-GGUF").status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo))
        // The blob here links to the catalog's file: removing the blob must leave that alone.
        XCTAssertTrue(FileManager.default.fileExists(atPath: gguf), "rm deleted what a blob links to")
    }

    func testBadReferencesAndMissingCacheGiveClearErrors() throws {
        let bad = try loom("pull", "hf:just-a-name")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("expected OWNER/REPO") && bad.stderr.contains("hf:OWNER/REPO:QUANT"), bad.stderr)

        let missing = try loom("run", "-m", "hf:loom-test/absent", "--offline", "-p", "hi")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("offline: hf:loom-test/absent is not fully cached: no snapshot of revision 'main'"), missing.stderr)

        let adapter = try loom("run", "--lora", "hf:loom-test/adapter@v2", "-p", "hi", offline: true)
        XCTAssertNotEqual(adapter.status, 0)
        XCTAssertTrue(adapter.stderr.contains("offline: hf:loom-test/adapter@v2"), adapter.stderr)
    }
}
