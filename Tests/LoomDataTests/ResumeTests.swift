import Foundation
import XCTest
@testable import LoomData
import LoomJinja

/// `--resume` after a failure mid-run gives the same output, byte for byte, as a run that
/// was never interrupted.
final class ResumeTests: XCTestCase {
    override func tearDown() {
        ResumableOutput.failAfterCheckpoints = nil
        ResumableOutput.checkpointInterval = 1
    }

    /// 9 000 records (five batches) with PII, near-copies and short documents.
    func makeInput(_ dir: String) throws -> String {
        var rng = SeededGenerator(seed: 3)
        var lines = ""
        for i in 0 ..< 9_000 {
            var words = randomDocument(words: 60 + i % 40, rng: &rng)
            if i % 7 == 0 { words.append("mail me at user\(i)@example.com") }
            if i % 11 == 0 { words = Array(words.prefix(5)) }
            let text = i % 13 == 0 && i > 0 ? "copy " + words.joined(separator: " ") : words.joined(separator: " ")
            lines += DataRecord(id: "d\(i)", source: "site/p\(i % 50).html", text: text).jsonLine + "\n"
            if i % 9 == 0 { lines += "not json\n" }
        }
        try write(lines, to: dir + "/in.jsonl")
        return dir + "/in.jsonl"
    }

    func checkResume(_ name: String, _ run: (String, String, Bool) throws -> StageStats) throws {
        let dir = try temporaryFolder(self)
        let input = try makeInput(dir)
        let reference = try run(input, dir + "/ref.jsonl", false)
        let out = dir + "/out.jsonl"
        ResumableOutput.checkpointInterval = 0
        ResumableOutput.failAfterCheckpoints = 2
        XCTAssertThrowsError(try run(input, out, false)) { XCTAssertTrue("\($0)".contains("injected failure"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(name): a failed run left a final output")
        let partial = dir + "/.out.jsonl.partial"
        let checkpoint = try JSONParser.parse(Array(FileManager.default.contents(atPath: out + ".checkpoint.json")!))
        guard case .object(let c) = checkpoint, case .integer(let saved)? = c["output_bytes"], case .integer(let line)? = c["input_line"] else {
            return XCTFail("\(name): no checkpoint")
        }
        let partialSize = (try FileManager.default.attributesOfItem(atPath: partial)[.size] as! NSNumber).intValue
        // The failure struck after output beyond the checkpoint had reached the disk.
        XCTAssertGreaterThan(partialSize, saved, name)
        XCTAssertGreaterThan(line, 0, name)
        ResumableOutput.failAfterCheckpoints = nil
        let resumed = try run(input, out, true)
        XCTAssertEqual(FileManager.default.contents(atPath: out), FileManager.default.contents(atPath: dir + "/ref.jsonl"), "\(name): resumed output differs")
        XCTAssertEqual(resumed.counters["resumed_at_line"], line, name)
        var counters = resumed.counters
        counters["resumed_at_line"] = nil
        XCTAssertEqual(counters, reference.counters, name)
        XCTAssertEqual(resumed.documentsIn, reference.documentsIn, name)
        XCTAssertEqual(resumed.documentsOut, reference.documentsOut, name)
        XCTAssertEqual(resumed.errorCount, reference.errorCount, name)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".checkpoint.json"), name)
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial), name)
    }

    func testScrubResumes() throws {
        try checkResume("scrub") { input, output, resume in
            var stage = CorpusScrubber()
            stage.resume = resume
            return try stage.run(input: input, output: output)
        }
    }

    func testCleanResumes() throws {
        try checkResume("clean") { input, output, resume in
            var stage = CorpusCleaner()
            stage.filter.thresholds.minWords = 20
            stage.resume = resume
            return try stage.run(input: input, output: output)
        }
    }

    func testDedupResumes() throws {
        try checkResume("dedup") { input, output, resume in
            var stage = Deduplicator(hasher: try MinHasher(), lsh: try LSHParameters(threshold: 0.7, permutations: 128), threshold: 0.7)
            stage.resume = resume
            return try stage.run(input: input, output: output)
        }
    }

    /// Format's train and validation files resume together from one checkpoint.
    func testFormatResumes() throws {
        let dir = try temporaryFolder(self)
        let input = try makeInput(dir)
        func format(_ folder: String, resume: Bool) throws -> StageStats {
            var stage = CorpusFormatter()
            stage.validationFraction = 0.2
            stage.resume = resume
            return try stage.run(input: input, output: folder)
        }
        let reference = try format(dir + "/ref", resume: false)
        ResumableOutput.checkpointInterval = 0
        ResumableOutput.failAfterCheckpoints = 2
        XCTAssertThrowsError(try format(dir + "/out", resume: false)) { XCTAssertTrue("\($0)".contains("injected failure"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/train.jsonl"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/validation.jsonl"))
        ResumableOutput.failAfterCheckpoints = nil
        let resumed = try format(dir + "/out", resume: true)
        for file in ["train.jsonl", "validation.jsonl", "dataset_info.json"] {
            let data = FileManager.default.contents(atPath: dir + "/out/" + file)
            XCTAssertNotNil(data, file)
            XCTAssertEqual(data, FileManager.default.contents(atPath: dir + "/ref/" + file), file)
        }
        XCTAssertGreaterThan(resumed.counters["resumed_at_line"] ?? 0, 0)
        var counters = resumed.counters
        counters["resumed_at_line"] = nil
        XCTAssertEqual(counters, reference.counters)
        XCTAssertGreaterThan(reference.counters["validation_documents"] ?? 0, 0)
    }

    /// Ingest checkpoints after whole files: a run that fails mid-folder, resumed, writes the
    /// same records, statistics and errors as one that never failed; a changed folder is refused.
    func testIngestResumes() throws {
        let dir = try temporaryFolder(self)
        let docs = dir + "/docs"
        try FileManager.default.createDirectory(atPath: docs + "/sub", withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 9)
        for i in 0 ..< 120 {
            let text = randomDocument(words: 30 + i % 20, rng: &rng).joined(separator: " ")
            if i % 10 == 0 {
                try write("<html><body><nav>Home</nav><p>\(text)</p></body></html>", to: docs + "/sub/page\(i).html")
            } else {
                try write(text, to: docs + "/doc\(i).txt")
            }
        }
        var lines = ""
        for i in 0 ..< 40 { lines += "{\"text\": \"line \(i) \(randomDocument(words: 12, rng: &rng).joined(separator: " "))\"}\n" }
        try write(lines + "broken\n", to: docs + "/records.jsonl")
        try Data([0, 1, 2, 0xFF, 0]).write(to: URL(fileURLWithPath: docs + "/binary.txt"))
        func ingest(_ output: String, resume: Bool) throws -> StageStats {
            var options = DocumentIngester.Options()
            options.batchSize = 8
            options.searchPath = false
            var ingester = DocumentIngester(options: options)
            ingester.resume = resume
            return try ingester.run(paths: [docs, dir + "/missing"], output: output)
        }
        let reference = try ingest(dir + "/ref.jsonl", resume: false)
        XCTAssertGreaterThan(reference.documentsOut, 150)
        let out = dir + "/out.jsonl"
        ResumableOutput.checkpointInterval = 0
        ResumableOutput.failAfterCheckpoints = 5
        XCTAssertThrowsError(try ingest(out, resume: false)) { XCTAssertTrue("\($0)".contains("injected failure"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        ResumableOutput.failAfterCheckpoints = nil
        let resumed = try ingest(out, resume: true)
        XCTAssertEqual(FileManager.default.contents(atPath: out), FileManager.default.contents(atPath: dir + "/ref.jsonl"))
        XCTAssertGreaterThan(resumed.counters["resumed_at_line"] ?? 0, 0, "resumed after some files")
        var counters = resumed.counters
        counters["resumed_at_line"] = nil
        XCTAssertEqual(counters, reference.counters)
        XCTAssertEqual(resumed.documentsOut, reference.documentsOut)
        XCTAssertEqual(resumed.errorCount, reference.errorCount)
        XCTAssertEqual(resumed.errors.map(\.source), reference.errors.map(\.source))

        // A checkpoint of another folder's listing is refused.
        ResumableOutput.failAfterCheckpoints = 2
        XCTAssertThrowsError(try ingest(out, resume: false))
        ResumableOutput.failAfterCheckpoints = nil
        try write("one more document", to: docs + "/added.txt")
        XCTAssertThrowsError(try ingest(out, resume: true)) { XCTAssertTrue("\($0)".contains("run without --resume"), "\($0)") }
    }

    func testResumeRefusesAnotherInput() throws {
        let dir = try temporaryFolder(self)
        let input = try makeInput(dir)
        ResumableOutput.checkpointInterval = 0
        ResumableOutput.failAfterCheckpoints = 1
        XCTAssertThrowsError(try CorpusScrubber().run(input: input, output: dir + "/out.jsonl"))
        ResumableOutput.failAfterCheckpoints = nil
        try write("{\"text\":\"changed\"}\n", to: input)
        var stage = CorpusScrubber()
        stage.resume = true
        XCTAssertThrowsError(try stage.run(input: input, output: dir + "/out.jsonl")) {
            XCTAssertTrue("\($0)".contains("run without --resume"), "\($0)")
        }
        // Without --resume the run starts again.
        stage.resume = false
        XCTAssertEqual(try stage.run(input: input, output: dir + "/out.jsonl").documentsOut, 1)
    }
}
