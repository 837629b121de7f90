import Foundation
import XCTest
@testable import LoomData
import LoomJinja

final class LanguageIdentifierTests: XCTestCase {
    /// Held-out sentences: Debian Reference chapters 7–12, 60 per language. The profiles were
    /// built from Wikipedia (langdetect), so none of these sentences was seen in training. Five
    /// "ja" and a few "zh" lines are English or mostly commands (the translations left them so):
    /// they are counted as errors, not removed.
    func heldOut() throws -> [(language: String, text: String)] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "langid_heldout", withExtension: "jsonl", subdirectory: "Fixtures"))
        return try readLines(url.path).map { line in
            guard case .object(let o) = try JSONParser.parse(Array(line.utf8)), case .string(let l)? = o["lang"], case .string(let t)? = o["text"] else {
                throw DataError("bad fixture line \(line)")
            }
            return (l, t)
        }
    }

    func testHeldOutAccuracy() throws {
        let sentences = try heldOut()
        XCTAssertEqual(sentences.count, 9 * 60)
        let identifier = LanguageIdentifier.shared
        var correct: [String: Int] = [:]
        var total: [String: Int] = [:]
        var mistakes: [String] = []
        for (language, text) in sentences {
            total[language, default: 0] += 1
            let (guess, _) = identifier.identify(text)
            if guess == language { correct[language, default: 0] += 1 } else { mistakes.append("\(language)→\(guess): \(text)") }
        }
        let accuracy = Double(correct.values.reduce(0, +)) / Double(sentences.count)
        print("language identification: held-out accuracy \(accuracy); per language \(correct.sorted { $0.key < $1.key })")
        for m in mistakes.prefix(10) { print("  " + m) }
        // 0.983 with the langdetect profiles (the Debian Reference samples they replaced: 0.965).
        XCTAssertGreaterThanOrEqual(accuracy, 0.97)
        for (language, n) in total {
            XCTAssertGreaterThanOrEqual(Double(correct[language] ?? 0) / Double(n), 0.85, language)
        }
    }

    func testScoresSeparateProseFromNoise() {
        let identifier = LanguageIdentifier.shared
        let prose = identifier.identify("The package manager keeps track of every file it installs, so removing a package leaves the system as it was before.")
        XCTAssertEqual(prose.language, "en")
        XCTAssertGreaterThan(prose.score, 0.9)
        XCTAssertEqual(identifier.identify("1234 — 5678 !!! ###").language, "und")
        XCTAssertEqual(identifier.identify("").score, 0)
        // Letters of no trained script: no language is favoured much.
        XCTAssertLessThan(identifier.identify("Привет мир, как дела сегодня утром").score, 0.9)
    }

    func testCleanKeepsOnlyTheWantedLanguage() throws {
        let dir = try temporaryFolder(self)
        let sentences = try heldOut()
        var lines = ""
        var expected = 0
        for language in ["en", "de", "fr", "ja"] {
            // Documents of five held-out sentences each.
            let texts = sentences.filter { $0.language == language }.map(\.text)
            for d in 0 ..< 6 {
                lines += DataRecord(id: "\(language)\(d)", source: "s\(d)", text: texts[d * 5 ..< d * 5 + 5].joined(separator: " ")).jsonLine + "\n"
                if language == "en" { expected += 1 }
            }
        }
        try write(lines, to: dir + "/in.jsonl")
        var cleaner = CorpusCleaner()
        cleaner.filter.quality = false
        cleaner.filter.repetition = false
        cleaner.filter.thresholds.minWords = 1
        cleaner.removeBoilerplate = false
        cleaner.languages = ["en"]
        cleaner.minLanguageScore = 0.5
        let stats = try cleaner.run(input: dir + "/in.jsonl", output: dir + "/out.jsonl")
        let out = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)) }
        XCTAssertEqual(out.count, expected)
        XCTAssertTrue(out.allSatisfy { $0.id.hasPrefix("en") && $0.extra["lang"].map(JSONWriter.string) == "\"en\"" })
        XCTAssertEqual(stats.counters["language_not_wanted"], 18)
    }
}
