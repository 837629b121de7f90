import Foundation
import LoomJinja
import XCTest
@testable import LoomData

final class RecordIOTests: XCTestCase {
    func testRecordRoundTripKeepsExtraFieldsAndEscapes() throws {
        let record = DataRecord(id: "a1", source: "dir/x.txt", text: "line \"one\"\n\ttab \\ é 🚀 \u{01}",
                                extra: ["site": .string("dir"), "n": .integer(3), "tags": .array([.bool(true), .null])])
        let line = record.jsonLine
        XCTAssertFalse(line.contains("\n"))
        XCTAssertTrue(line.hasPrefix("{\"id\":\"a1\",\"source\":\"dir/x.txt\",\"text\":"))
        XCTAssertTrue(line.contains("\\u0001"))
        let back = try DataRecord(jsonLine: Array(line.utf8))
        XCTAssertEqual(back, record)
    }

    func testRecordErrorsNameTheProblem() {
        XCTAssertThrowsError(try DataRecord(jsonLine: Array("[1]".utf8))) { XCTAssertTrue("\($0)".contains("JSON object")) }
        XCTAssertThrowsError(try DataRecord(jsonLine: Array("{\"id\":\"x\"}".utf8))) { XCTAssertTrue("\($0)".contains("\"text\"")) }
        XCTAssertThrowsError(try DataRecord(jsonLine: Array("{\"text\":".utf8)))
    }

    func testLineReaderSplitsChunksAndSkipsHugeLines() throws {
        let dir = try temporaryFolder(self)
        let path = dir + "/lines.txt"
        let huge = String(repeating: "x", count: 5000)
        try write("a\r\nbb\n\(huge)\nccc\n\(huge)\nlast", to: path)
        let reader = try LineReader(path: path, maxLineBytes: 1000, chunkSize: 7)
        var lines: [LineReader.Line] = []
        while let line = try reader.next() { lines.append(line) }
        XCTAssertEqual(lines, [.line(Array("a".utf8)), .line(Array("bb".utf8)), .tooLong(bytes: 5000), .line(Array("ccc".utf8)),
                               .tooLong(bytes: 5000), .line(Array("last".utf8))])
        XCTAssertEqual(reader.lineNumber, 6)
    }

    func testRecordStreamCountsMalformedLinesAndKeepsGoing() throws {
        let dir = try temporaryFolder(self)
        let path = dir + "/in.jsonl"
        try write("{\"id\":\"1\",\"text\":\"one\"}\nnot json\n\n{\"text\":\"two\"}\n{\"id\":[],\"text\":\"x\"}\n", to: path)
        var stats = StageStats(stage: "t", inputs: [path], output: "")
        var texts: [String] = []
        try RecordStream.forEachBatch(path: path, batchSize: 1, stats: &stats) { batch, _ in texts += batch.map(\.text) }
        XCTAssertEqual(texts, ["one", "two"])
        XCTAssertEqual(stats.counters["malformed_lines"], 2)
        XCTAssertEqual(stats.errors.count, 2)
        XCTAssertTrue(stats.errors[0].source.hasSuffix(":2"))
    }

    func testAtomicWriterLeavesNoFileUntilCommit() throws {
        let dir = try temporaryFolder(self)
        let path = dir + "/out.jsonl"
        do {
            let writer = try AtomicFileWriter(path: path)
            try writer.write("partial")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        }
        // Abandoned without commit: no output and no temporary file left behind.
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        let writer = try AtomicFileWriter(path: path)
        try writer.write("done\n")
        try writer.commit()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "done\n")
        XCTAssertThrowsError(try AtomicFileWriter(path: dir + "/missing/out.jsonl")) { XCTAssertTrue("\($0)".contains("does not exist")) }
    }

    func testStableHashIsStableAndSpreads() {
        XCTAssertEqual(StableHash.hash64("hello"), StableHash.hash64("hello"))
        XCTAssertNotEqual(StableHash.hash64("hello"), StableHash.hash64("hellp"))
        XCTAssertNotEqual(StableHash.hash64("hello", seed: 1), StableHash.hash64("hello", seed: 2))
        // Pinned so that ids never change between versions: a changed hash would re-id every corpus.
        XCTAssertEqual(StableHash.hex(StableHash.hash64("")).count, 16)
        var seen = Set<UInt64>()
        for i in 0 ..< 100_000 { seen.insert(StableHash.hash64("doc \(i)") >> 40) }
        XCTAssertGreaterThan(seen.count, 99_000)  // top 24 bits: ~99.7 % distinct expected
    }

    func testStatsSidecarRoundTrip() throws {
        let dir = try temporaryFolder(self)
        var stats = StageStats(stage: "clean", inputs: ["a.jsonl"], output: dir + "/b.jsonl")
        stats.documentsIn = 5
        stats.count("gopher_stop_words", 2)
        stats.error("a.jsonl:3", "bad", counter: "malformed_lines")
        stats.details["x"] = .integer(1)
        try stats.writeSidecar()
        let back = try StageStats.read(sidecar: dir + "/b.jsonl.stats.json")
        XCTAssertEqual(back.stage, "clean")
        XCTAssertEqual(back.documentsIn, 5)
        XCTAssertEqual(back.counters, ["gopher_stop_words": 2, "malformed_lines": 1])
        XCTAssertEqual(back.errors.first?.message, "bad")
    }
}
