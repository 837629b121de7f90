import Foundation
import XCTest
import LoomJinja
@testable import LoomData

final class IngestTests: XCTestCase {
    func testIngestsEveryFormatAndCountsBadFiles() throws {
        let dir = try temporaryFolder(self)
        let root = dir + "/docs"
        try write("Plain text file.\n", to: root + "/a.txt")
        try write("# Title\n\nMarkdown body.", to: root + "/sub/b.md")
        try write("<html><body><nav>menu</nav><h1>Page</h1><p>Body &amp; text</p><footer>foot</footer></body></html>", to: root + "/sub/deeper/c.html")
        try write("[{\"body\": \"json one\", \"lang\": \"en\"}, {\"body\": \"json two\"}, {\"other\": 1}]", to: root + "/d.json")
        try write("{\"body\": \"line one\", \"id\": 7}\n{broken\n\n{\"body\": \"line two\"}\n", to: root + "/e.jsonl")
        try write("title,body\nFirst,\"csv, with comma\"\nSecond,\"multi\nline \"\"quoted\"\"\"\n", to: root + "/f.csv")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x00, 0x00, 0x01]).write(to: URL(fileURLWithPath: root + "/binary.txt"))
        try Data([0x62, 0x61, 0x64, 0x20, 0xFF, 0xFE, 0x20, 0x75, 0x74, 0x66]).write(to: URL(fileURLWithPath: root + "/invalid.md"))
        try write("%PDF-1.4 not really", to: root + "/g.pdf")
        try write("ignored", to: root + "/image.png")
        try write("hidden", to: root + "/.hidden/h.txt")
        try write("   \n", to: root + "/empty.txt")
        try FileManager.default.createDirectory(atPath: dir + "/emptyfolder", withIntermediateDirectories: true)

        var options = DocumentIngester.Options()
        options.field = "body"
        options.searchPath = false  // as if pdftotext were not installed
        let output = dir + "/docs.jsonl"
        let stats = try DocumentIngester(options: options).run(paths: [root, dir + "/emptyfolder", dir + "/missing"], output: output)
        let records = try readLines(output).map { try DataRecord(jsonLine: Array($0.utf8)) }
        let texts = records.map(\.text)
        XCTAssertEqual(texts, ["Plain text file.\n", "json one", "json two", "line one", "line two", "csv, with comma",
                               "multi\nline \"quoted\"", "bad \u{FFFD}\u{FFFD} utf", "# Title\n\nMarkdown body.", "Page\n\nBody & text"])
        XCTAssertEqual(records[1].extra["lang"].map(JSONWriter.string), JSONWriter.string(.string("en")))
        XCTAssertEqual(records[3].extra["orig_id"].map(JSONWriter.string), JSONWriter.string(.integer(7)))
        XCTAssertEqual(records[5].extra["title"].map(JSONWriter.string), JSONWriter.string(.string("First")))
        XCTAssertEqual(records[0].extra["site"].map(JSONWriter.string), JSONWriter.string(.string(root)))
        XCTAssertEqual(records[5].source, root + "/f.csv#2")
        XCTAssertEqual(Set(records.map(\.id)).count, records.count)
        XCTAssertEqual(stats.counters["binary"], 1)
        XCTAssertEqual(stats.counters["repaired_utf8_files"], 1)
        XCTAssertEqual(stats.counters["repaired_utf8_sequences"], 2)
        XCTAssertEqual(stats.counters["missing_field"], 1)
        XCTAssertEqual(stats.counters["broken_json"], 1)
        XCTAssertEqual(stats.counters["pdf_without_pdftotext"], 1)
        XCTAssertEqual(stats.counters["skipped_unsupported"], 1)
        XCTAssertEqual(stats.counters["empty_documents"], 1)
        XCTAssertEqual(stats.counters["empty_folders"], 1)
        XCTAssertEqual(stats.counters["missing_paths"], 1)
        XCTAssertTrue(stats.errors.contains { $0.source.hasSuffix("g.pdf") && $0.message.contains("pdftotext (poppler-utils) is not installed") })
        XCTAssertEqual(stats.documentsOut, records.count)

        // Ids are stable: a second run gives the same file.
        let again = dir + "/again.jsonl"
        _ = try DocumentIngester(options: options).run(paths: [root, dir + "/emptyfolder", dir + "/missing"], output: again)
        XCTAssertEqual(try String(contentsOfFile: again, encoding: .utf8), try String(contentsOfFile: output, encoding: .utf8))
    }

    func testOversizedFileIsSkippedWithAnError() throws {
        let dir = try temporaryFolder(self)
        try write(String(repeating: "x", count: 2000), to: dir + "/in/big.txt")
        var options = DocumentIngester.Options()
        options.maxFileBytes = 1000
        let stats = try DocumentIngester(options: options).run(paths: [dir + "/in"], output: dir + "/out.jsonl")
        XCTAssertEqual(stats.counters["too_large"], 1)
        XCTAssertEqual(stats.documentsOut, 0)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8), "")
    }
}
