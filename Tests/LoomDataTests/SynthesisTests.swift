import Foundation
import XCTest
@testable import LoomData

/// `format --synthesize qa` and `clean --ppl-model` with the model replaced by a function
/// (the real models are exercised by the release CLI tests).
final class SynthesisTests: XCTestCase {
    let chunk = "The Python package index, PyPI, hosts more than 500000 projects. Packages are installed with pip, which resolves dependencies."

    func testParseReadsNumberedAndBoldPairs() {
        let reply = """
        Here are the pairs:
        1. **Q:** What hosts Python projects?
        **A:** The Python package index, PyPI.
        2. Question: How are packages installed?
        Answer: With pip.
        Q: A question without an answer?
        """
        let pairs = QASynthesizer.parse(reply)
        XCTAssertEqual(pairs.map(\.question), ["What hosts Python projects?", "How are packages installed?"])
        XCTAssertEqual(pairs.map(\.answer), ["The Python package index, PyPI.", "With pip."])
    }

    func testSupportDropsAnswersNotInTheChunk() {
        XCTAssertEqual(QASynthesizer.support(answer: "With pip.", chunk: chunk), 1)
        XCTAssertEqual(QASynthesizer.support(answer: "PyPI hosts 500000 projects", chunk: chunk), 1)
        XCTAssertLessThan(QASynthesizer.support(answer: "Guido van Rossum created it in 1991", chunk: chunk), 0.2)
        XCTAssertEqual(QASynthesizer.support(answer: "It is the one.", chunk: chunk), 0, "no content words")
    }

    func testFormatWritesSupportedPairsOnTheRecordsSide() throws {
        let dir = try temporaryFolder(self)
        try write([
            DataRecord(id: "c1", source: "s", text: chunk),
            DataRecord(id: "c2", source: "s", text: "Nothing to ask about here at all."),
        ].map { $0.jsonLine + "\n" }.joined(), to: dir + "/chunks.jsonl")
        var prompts: [String] = []
        var synthesizer = QASynthesizer { prompt in
            prompts.append(prompt)
            if prompt.contains("PyPI") {
                return "Q: What hosts Python projects?\nA: PyPI, the Python package index.\nQ: Who wrote pip?\nA: Guido van Rossum in 1991.\n"
            }
            return "I cannot write questions about this."
        }
        synthesizer.pairsPerChunk = 2
        var formatter = CorpusFormatter()
        formatter.synthesizer = synthesizer
        let stats = try formatter.run(input: dir + "/chunks.jsonl", output: dir + "/set")
        XCTAssertEqual(prompts.count, 2)
        XCTAssertTrue(prompts[0].contains("Write 2 questions") && prompts[0].hasSuffix(chunk), prompts[0])
        XCTAssertEqual(try readLines(dir + "/set/train.jsonl"),
                       [#"{"instruction":"What hosts Python projects?","input":"","output":"PyPI, the Python package index."}"#])
        XCTAssertEqual(stats.counters["qa_pairs_generated"], 2)
        XCTAssertEqual(stats.counters["qa_pairs_unsupported"], 1)
        XCTAssertEqual(stats.counters["qa_pairs_kept"], 1)
        XCTAssertEqual(stats.counters["qa_replies_without_pairs"], 1)
        let info = try String(contentsOfFile: dir + "/set/dataset_info.json", encoding: .utf8)
        XCTAssertTrue(info.contains("\"formatting\":\"alpaca\""), info)
    }

    func testPerplexityFilterRemovesAndAnnotates() throws {
        let dir = try temporaryFolder(self)
        try write([
            DataRecord(id: "good", source: "s", text: "plain words here"),
            DataRecord(id: "bad", source: "s", text: "zq xv jk qz"),
            DataRecord(id: "short", source: "s", text: "x"),
        ].map { $0.jsonLine + "\n" }.joined(), to: dir + "/in.jsonl")
        var cleaner = CorpusCleaner()
        cleaner.filter.quality = false
        cleaner.filter.repetition = false
        cleaner.filter.thresholds.minWords = 1
        cleaner.removeBoilerplate = false
        var scored: [String] = []
        cleaner.perplexity = { text in
            scored.append(text)
            if text.count < 2 { return nil }
            return text.hasPrefix("zq") ? 900 : 12.5
        }
        cleaner.maxPerplexity = 100
        let stats = try cleaner.run(input: dir + "/in.jsonl", output: dir + "/out.jsonl")
        let out = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)) }
        XCTAssertEqual(out.map(\.id), ["good", "short"])
        XCTAssertEqual(out[0].extra["ppl"].map(JSONWriter.string), "12.5")
        XCTAssertNil(out[1].extra["ppl"])
        XCTAssertEqual(stats.counters["perplexity_too_high"], 1)
        XCTAssertEqual(scored, ["plain words here", "zq xv jk qz", "x"])
    }
}
