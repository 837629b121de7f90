import Foundation
import XCTest

/// `loom data` as a user runs it: recipes, a crash and --resume, and the model-backed stages.
final class DataCLITests: XCTestCase {
    func loom(_ arguments: String...) throws -> LoomProcess.Output { try LoomProcess.run(arguments) }

    func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-data-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    let prose = [
        "The river rose through the night and by morning the lower fields were under water, so the farmers moved their animals to the ridge and waited for the rain to stop.",
        "A small library opened in the old station building, with shelves made from the benches of the waiting room and a reading lamp on every table near the windows.",
        "The committee met on Tuesday to decide how the new bridge should be paid for, and after a long debate it agreed to share the cost between the two towns.",
        "Every spring the children of the village plant a row of trees along the road to the school, and each child looks after one tree until it is taller than they are.",
    ]

    /// A small site: pages with shared navigation, one near copy, one email address.
    func makeSite(_ dir: String) throws {
        for (i, text) in prose.enumerated() {
            let body = String(repeating: text + " ", count: 3) + (i == 1 ? "Write to clerk@example.org for a card." : "")
            try write("<html><body><nav>Home | Index | Search</nav><main><h1>Page \(i)</h1><p>\(body)</p></main><footer>© Town</footer></body></html>",
                      dir + "/site/page\(i).html")
        }
        try write(String(repeating: prose[0] + " ", count: 3) + "One more line at the end.", dir + "/site/copy.txt")
    }

    func testRecipeRunsEveryStageAndNamesItsErrors() throws {
        let dir = try folder()
        try makeSite(dir)
        try write("""
        output_dir: \(dir)/out
        steps:
          - stage: ingest
            input: ["${SITE}"]
          - stage: clean
            min_words: 10
            no_repetition: true
          - stage: dedup
            threshold: 0.7
          - stage: scrub
          - stage: format
            val_split: 0.25
          - stage: report
        """, dir + "/recipe.yaml")
        let dry = try loom("data", "run", dir + "/recipe.yaml", "--var", "SITE=\(dir)/site", "--dry-run")
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("loom data clean \(dir)/out/01-ingest.jsonl -o \(dir)/out/02-clean.jsonl --min-words 10 --no-repetition"), dry.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "a dry run wrote")

        let run = try loom("data", "run", dir + "/recipe.yaml", "--var", "SITE=\(dir)/site")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try lines(dir + "/out/01-ingest.jsonl").count, 5)
        XCTAssertEqual(try lines(dir + "/out/03-dedup.jsonl").count, 4, "the near copy is removed")
        XCTAssertTrue(try String(contentsOfFile: dir + "/out/04-scrub.jsonl", encoding: .utf8).contains("<EMAIL>"))
        let train = try lines(dir + "/out/05-format/train.jsonl").count
        let validation = (try? lines(dir + "/out/05-format/validation.jsonl").count) ?? 0
        XCTAssertEqual(train + validation, 4)
        let report = try String(contentsOfFile: dir + "/out/report/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("dedup"), report)

        // A misspelt option fails before any stage runs, naming the recipe line and step.
        try write("steps:\n  - stage: ingest\n    input: x\n  - stage: clean\n    min_wrds: 3\n", dir + "/bad.yaml")
        let bad = try loom("data", "run", dir + "/bad.yaml", "--output-dir", dir + "/bad-out")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("bad.yaml:4: step 2 (clean)") && bad.stderr.contains("min-wrds"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad-out"))
        let missing = try loom("data", "run", dir + "/missing.yaml")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("cannot read the recipe"), missing.stderr)
    }

    /// A `loom data scrub` killed mid-run (SIGKILL, no chance to clean up) and rerun with
    /// --resume writes exactly what an uninterrupted run writes.
    func testKilledRunResumesByteForByte() throws {
        let dir = try folder()
        var text = ""
        var n = 0
        while text.utf8.count < 120 << 20 {
            text += "{\"id\":\"d\(n)\",\"source\":\"s\",\"text\":\"\(prose[n % 4]) Mail user\(n)@example.com or call +1 415 555 \(1000 + n % 9000).\"}\n"
            n += 1
        }
        try write(text, dir + "/in.jsonl")
        text = ""
        let reference = try loom("data", "scrub", dir + "/in.jsonl", "-o", dir + "/ref.jsonl")
        XCTAssertEqual(reference.status, 0, reference.stderr)

        let process = Process()
        process.executableURL = LoomProcess.executable
        process.arguments = ["data", "scrub", dir + "/in.jsonl", "-o", dir + "/out.jsonl"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = dir + "/out.jsonl.checkpoint.json"
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning && Date() < deadline { usleep(20_000) }
        usleep(300_000)
        guard process.isRunning else { return XCTFail("the run ended before it could be killed; make the input larger") }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.jsonl"), "a killed run left a final output")
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint))

        let resumed = try loom("data", "scrub", dir + "/in.jsonl", "-o", dir + "/out.jsonl", "--resume")
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let same = FileManager.default.contentsEqual(atPath: dir + "/out.jsonl", andPath: dir + "/ref.jsonl")
        XCTAssertTrue(same, "the resumed output differs from an uninterrupted run")
        let stats = try String(contentsOfFile: dir + "/out.jsonl.stats.json", encoding: .utf8)
        XCTAssertTrue(stats.contains("\"resumed_at_line\""), stats)
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint))
    }

    /// CCNet's filter with the SmolLM2 test model: shuffled words score far worse than prose.
    func testPerplexityFilterWithSmolLM2() throws {
        let dir = try folder()
        var rng = SystemRandomNumberGenerator()
        let shuffled = prose.map { $0.split(separator: " ").shuffled(using: &rng).joined(separator: " ").lowercased() }
        var records = ""
        for (i, t) in prose.enumerated() { records += "{\"id\":\"p\(i)\",\"text\":\"\(t)\"}\n" }
        for (i, t) in shuffled.enumerated() { records += "{\"id\":\"s\(i)\",\"text\":\"\(t)\"}\n" }
        try write(records, dir + "/in.jsonl")
        let common = ["--min-words", "5", "--no-quality", "--no-repetition", "--keep-boilerplate", "--ppl-model", "smollm2"]
        let scored = try LoomProcess.run(["data", "clean", dir + "/in.jsonl", "-o", dir + "/all.jsonl", "--max-ppl", "1e9"] + common)
        XCTAssertEqual(scored.status, 0, scored.stderr)
        var ppl: [String: Double] = [:]
        for line in try lines(dir + "/all.jsonl") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            ppl[o["id"] as! String] = try XCTUnwrap(o["ppl"] as? Double)
        }
        XCTAssertEqual(ppl.count, 8)
        let worstProse = (0 ..< 4).map { ppl["p\($0)"]! }.max()!
        let bestShuffled = (0 ..< 4).map { ppl["s\($0)"]! }.min()!
        XCTAssertLessThan(worstProse * 2, bestShuffled, "\(ppl)")
        let cut = (worstProse * bestShuffled).squareRoot()
        let filtered = try LoomProcess.run(["data", "clean", dir + "/in.jsonl", "-o", dir + "/kept.jsonl", "--max-ppl", String(cut)] + common)
        XCTAssertEqual(filtered.status, 0, filtered.stderr)
        XCTAssertEqual(try lines(dir + "/kept.jsonl").map { String($0.prefix(10)) }.sorted(), (0 ..< 4).map { "{\"id\":\"p\($0)\"" })
        XCTAssertTrue(try String(contentsOfFile: dir + "/kept.jsonl.stats.json", encoding: .utf8).contains("\"perplexity_too_high\":4"))
    }

    /// Q&A pairs from a few chunks with the Qwen2.5-0.5B test model: some are written, and
    /// every pair kept is supported by its chunk.
    func testSynthesizeQAWithQwen() throws {
        let dir = try folder()
        let chunks = [
            "The Eiffel Tower is in Paris. It was completed in 1889 for the World Fair and is 330 meters tall. It is made of wrought iron.",
            "Python lists are mutable sequences. The append method adds one item to the end of a list, and the sort method sorts the list in place.",
            "Bitcoin uses proof of work. Miners compete to find a hash below a target, and the winner adds the next block and receives newly created bitcoin.",
        ]
        try write(chunks.enumerated().map { "{\"id\":\"c\($0.offset)\",\"text\":\"\($0.element)\"}\n" }.joined(), dir + "/chunks.jsonl")
        let r = try loom("data", "format", dir + "/chunks.jsonl", "-o", dir + "/qa", "--synthesize", "qa", "-m", "qwen2.5-0.5b", "--pairs", "2")
        XCTAssertEqual(r.status, 0, r.stderr)
        let stats = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/qa/train.jsonl.stats.json"))) as? [String: Any])
        let counters = try XCTUnwrap(stats["counters"] as? [String: Int])
        XCTAssertGreaterThan(counters["qa_pairs_generated"] ?? 0, 0, "\(counters)")
        let kept = try lines(dir + "/qa/train.jsonl")
        XCTAssertEqual(kept.count, counters["qa_pairs_kept"] ?? 0)
        XCTAssertGreaterThan(kept.count, 0, "\(counters)")
        let allWords = Set(chunks.joined(separator: " ").lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init))
        for line in kept {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
            XCTAssertFalse(o["instruction"]!.isEmpty)
            let words = o["output"]!.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
            XCTAssertGreaterThan(words.filter(allWords.contains).count * 2, words.count, line)
        }
    }
}
