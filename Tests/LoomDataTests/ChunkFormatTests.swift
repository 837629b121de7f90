import Foundation
import LoomJinja
import XCTest
@testable import LoomData

final class ChunkFormatTests: XCTestCase {
    /// A byte-level "tokenizer": one token per UTF-8 byte, so windows can cut characters.
    func byteChunker(_ maxTokens: Int, _ overlap: Int) throws -> TextChunker {
        try TextChunker(maxTokens: maxTokens, overlap: overlap,
                        encode: { Array($0.utf8).map(Int.init) },
                        decode: { String(decoding: $0.map { UInt8($0) }, as: UTF8.self) })
    }

    func testWindowsOverlap() throws {
        let pieces = try byteChunker(4, 1).chunks("abcdefghij")
        XCTAssertEqual(pieces.map(\.text), ["abcd", "defg", "ghij"])
        XCTAssertEqual(pieces.map(\.tokens), [4, 4, 4])
        XCTAssertEqual(try byteChunker(20, 5).chunks("short").map(\.text), ["short"])
        XCTAssertEqual(try byteChunker(4, 0).chunks("").count, 0)
        XCTAssertThrowsError(try byteChunker(4, 4)) { XCTAssertTrue("\($0)".contains("--overlap")) }
    }

    func testWindowsNeverCutACharacter() throws {
        // Multi-byte characters everywhere, and no repeats within a window's reach.
        let text = (0 ..< 80).map { "ä\($0)😀€" }.joined(separator: " ")
        for (size, overlap) in [(5, 1), (7, 2), (9, 3), (16, 4)] {
            let pieces = try byteChunker(size, overlap).chunks(text)
            XCTAssertFalse(pieces.contains { $0.text.contains("\u{FFFD}") }, "\(size)/\(overlap)")
            XCTAssertTrue(pieces.allSatisfy { $0.tokens <= size && $0.text.utf8.count == $0.tokens })
            XCTAssertTrue(text.hasPrefix(pieces.first!.text))
            XCTAssertTrue(text.hasSuffix(pieces.last!.text))
            // Every byte is in some window: each window starts at or before the end of the previous ones.
            var covered = 0
            var searchFrom = text.startIndex
            for piece in pieces {
                guard let found = text.range(of: piece.text, range: searchFrom ..< text.endIndex) else {
                    return XCTFail("window \(piece.text) not found in order")
                }
                let start = text.utf8.distance(from: text.startIndex, to: found.lowerBound)
                XCTAssertLessThanOrEqual(start, covered)
                covered = max(covered, start + piece.tokens)
                searchFrom = text.index(after: found.lowerBound)
            }
            XCTAssertEqual(covered, text.utf8.count)
        }
    }

    func testChunkThenFormatKeepsDocumentsOnOneSide() throws {
        let dir = try temporaryFolder(self)
        var lines = ""
        for i in 0 ..< 40 {
            lines += DataRecord(id: "doc\(i)", source: "s\(i)", text: String(repeating: "word\(i) ", count: 30), extra: ["site": .string("x")]).jsonLine + "\n"
        }
        try write(lines, to: dir + "/in.jsonl")
        let stats = try CorpusChunker(chunker: try byteChunker(64, 8)).run(input: dir + "/in.jsonl", output: dir + "/chunks.jsonl")
        let chunks = try readLines(dir + "/chunks.jsonl").map { try DataRecord(jsonLine: Array($0.utf8)) }
        XCTAssertGreaterThan(chunks.count, 80)
        XCTAssertEqual(stats.counters["documents_split"], 40)
        XCTAssertEqual(chunks[0].id, "doc0-c0")
        XCTAssertEqual(chunks[0].extra["parent_id"].map(JSONWriter.string), "\"doc0\"")

        // A clusters file puts doc1 with doc0 (as if doc1 were a near copy of doc0).
        try write("{\"representative\":\"doc0\",\"members\":[\"doc0\",\"doc1\"]}\n", to: dir + "/clusters.jsonl")
        var formatter = CorpusFormatter()
        formatter.validationFraction = 0.3
        try formatter.loadClusters(dir + "/clusters.jsonl")
        let formatStats = try formatter.run(input: dir + "/chunks.jsonl", output: dir + "/set")
        let train = try readLines(dir + "/set/train.jsonl")
        let validation = try readLines(dir + "/set/validation.jsonl")
        XCTAssertEqual(train.count + validation.count, chunks.count)
        XCTAssertGreaterThan(validation.count, 0)
        XCTAssertEqual(formatStats.counters["validation_documents"], validation.count)
        func side(_ doc: Int) -> Set<Bool> {
            Set(chunks.filter { $0.id.hasPrefix("doc\(doc)-") }.map { c in validation.contains { $0.contains("\"\(c.text)\"") } })
        }
        // Each document's chunks are all on one side, and doc1 is where doc0 is.
        for doc in 2 ..< 40 { XCTAssertEqual(side(doc).count, 1, "doc\(doc) split across train and validation") }
        XCTAssertEqual(side(0), side(1))
        XCTAssertTrue(train[0].hasPrefix("{\"text\":"))
        let info = try String(contentsOfFile: dir + "/set/dataset_info.json", encoding: .utf8)
        XCTAssertEqual(info, "{\"loom_data\":{\"file_name\":\"train.jsonl\",\"columns\":{\"prompt\":\"text\"}},\"loom_data_validation\":{\"file_name\":\"validation.jsonl\",\"columns\":{\"prompt\":\"text\"}}}\n")
    }

    func testAlpacaTakesTheInstructionField() throws {
        let dir = try temporaryFolder(self)
        try write([
            DataRecord(id: "1", source: "q", text: "Paris.", extra: ["question": .string("Capital of France?")]),
            DataRecord(id: "2", source: "q", text: "No question here."),
        ].map { $0.jsonLine + "\n" }.joined(), to: dir + "/in.jsonl")
        var formatter = CorpusFormatter()
        formatter.format = .alpaca
        formatter.instructionField = "question"
        let stats = try formatter.run(input: dir + "/in.jsonl", output: dir + "/set")
        XCTAssertEqual(try readLines(dir + "/set/train.jsonl"), ["{\"instruction\":\"Capital of France?\",\"input\":\"\",\"output\":\"Paris.\"}"])
        XCTAssertEqual(stats.counters["missing_instruction"], 1)
        XCTAssertTrue(try String(contentsOfFile: dir + "/set/dataset_info.json", encoding: .utf8).contains("\"formatting\":\"alpaca\""))
    }
}
