import Foundation
import XCTest
@testable import LoomData

final class CleanTests: XCTestCase {
    func testNormalizer() {
        let n = TextNormalizer()
        XCTAssertEqual(n.normalize("Cafe\u{301}\r\nline\u{00A0}two\u{200B}\u{07}  spaced \t out  \r\n\r\n\n\nnext"), "Café\nline two spaced out\n\nnext")
        XCTAssertEqual(n.normalize("an exam-\nple of hyphen-\nation"), "an example of hyphenation")
        // Not joined: a capital next, a digit before the hyphen, or a list dash.
        XCTAssertEqual(n.normalize("Jean-\nPaul and 2019-\n2020 and\n- item"), "Jean-\nPaul and 2019-\n2020 and\n- item")
        // Indentation survives (code), tabs count as four spaces.
        XCTAssertEqual(n.normalize("def f():\n\treturn  1\n    pass   "), "def f():\n    return 1\n    pass")
        XCTAssertEqual(n.normalize("\u{FEFF}  \n\n"), "")
    }

    func testGopherRulesEachHaveACounter() {
        var f = QualityFilter()
        var rng = SeededGenerator(seed: 11)
        let good = randomDocument(words: 200, rng: &rng).joined(separator: " ")
        XCTAssertNil(f.rejection(good))
        XCTAssertEqual(f.rejection("The short one."), "length_too_few_words")
        let noStops = (0 ..< 60).map { "item\($0)" }.joined(separator: " ")
        XCTAssertEqual(f.rejection(noStops), "gopher_stop_words")
        let hashes = good + " " + String(repeating: "#tag ", count: 30)
        XCTAssertEqual(f.rejection(hashes), "gopher_symbol_word_ratio")
        let ellipses = (0 ..< 20).map { "Line \($0) of the text with the words and more to read..." }.joined(separator: "\n")
        XCTAssertEqual(f.rejection(ellipses), "gopher_ellipsis_lines")
        let bullets = (0 ..< 20).map { "• item \($0) of the list with the words and some more" }.joined(separator: "\n")
        XCTAssertEqual(f.rejection(bullets), "gopher_bullet_lines")
        let numbers = good + " " + (0 ..< 200).map { "\($0 * 7919)" }.joined(separator: " ")
        XCTAssertEqual(f.rejection(numbers), "gopher_alphabetic_words")
        let repeatedLines = (0 ..< 20).map { $0 % 2 == 0 ? "The same line with the words of it and more to come" : "Line \($0) is new and has the text" }.joined(separator: "\n")
        XCTAssertEqual(f.rejection(repeatedLines), "gopher_duplicate_lines")
        let longWords = (0 ..< 60).map { _ in "the supercalifragilisticexpialidocious" }.joined(separator: " ")
        f.repetition = false
        XCTAssertEqual(f.rejection(longWords), "gopher_mean_word_length")
        f.repetition = true
        f.quality = false
        f.length = false
        let spam = (0 ..< 40).map { "buy now \($0) buy now and the offer" }.joined(separator: " ")
        XCTAssertEqual(f.rejection(spam), "gopher_top_2gram")
        let repeatedRun = good + " " + good
        XCTAssertEqual(f.rejection(repeatedRun), "gopher_duplicate_5gram")
    }

    func testCleanRemovesSiteBoilerplateAndCountsFilters() throws {
        let dir = try temporaryFolder(self)
        let input = dir + "/in.jsonl"
        var rng = SeededGenerator(seed: 3)
        var records: [DataRecord] = []
        for i in 0 ..< 6 {
            let body = randomDocument(words: 120, vocabulary: 300, rng: &rng).joined(separator: " ")
            records.append(DataRecord(id: "p\(i)", source: "site/p\(i).html", text: "Navigation index modules | next |\nPython » 3.11 Documentation\n\(body)\n© Copyright 2001-2023, Python Software Foundation.",
                                      extra: ["site": .string("site")]))
        }
        records.append(DataRecord(id: "short", source: "site/short.html", text: "Navigation index modules | next |\nToo short.", extra: ["site": .string("site")]))
        // The same lines on another site's only two pages are not boilerplate there (fewer than 3 documents).
        let other = "Navigation index modules | next |\n" + randomDocument(words: 100, vocabulary: 300, rng: &rng).joined(separator: " ")
        records.append(DataRecord(id: "o1", source: "other/a.txt", text: other, extra: ["site": .string("other")]))
        try write(records.map { $0.jsonLine + "\n" }.joined() + "garbage line\n", to: input)
        let stats = try CorpusCleaner().run(input: input, output: dir + "/out.jsonl")
        let out = try readLines(dir + "/out.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)) }
        XCTAssertEqual(out.map(\.id), ["p0", "p1", "p2", "p3", "p4", "p5", "o1"])
        for r in out.prefix(6) {
            XCTAssertFalse(r.text.contains("Navigation"))
            XCTAssertFalse(r.text.contains("Copyright"))
        }
        XCTAssertTrue(out[6].text.hasPrefix("Navigation index"))
        XCTAssertEqual(stats.counters["boilerplate_lines_removed"], 6 * 3 + 1)
        XCTAssertEqual(stats.counters["length_too_few_words"], 1)
        XCTAssertEqual(stats.counters["malformed_lines"], 1)
        XCTAssertEqual(stats.documentsIn, 8)
        XCTAssertEqual(stats.documentsOut, 7)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out.jsonl.stats.json"))
    }
}
