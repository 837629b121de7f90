import Foundation
import LoomJinja

/// Reads the JSON objects of a dataset file one at a time, with the line each starts on.
///
/// Two layouts, told apart by the first non-blank byte, as LLaMA-Factory's loader (HF
/// `datasets`' "json" builder) accepts both:
/// - JSON Lines (`.jsonl`): read in 1 MiB chunks and parsed line by line, so a corpus larger
///   than memory streams through; blank lines are skipped.
/// - a JSON array of objects (`.json`): the file is read whole, and its top-level elements are
///   split by a small scanner (bracket depth outside strings) and parsed one by one, so a bad
///   element is reported by its own line and the others are kept.
///
/// Parsing is LoomJinja's strict RFC 8259 ``JSONParser`` (the one Loom uses for every JSON file
/// it reads), so key order is kept and errors carry a column.
public struct DatasetRecordReader {
    /// One record: its 1-based starting line, its bytes and the parsed object.
    public struct Record {
        public let line: Int
        public let bytes: [UInt8]
        public let object: JSONObject
    }

    /// The dataset file.
    public let path: String
    private static let chunkSize = 1 << 20

    public init(path: String) {
        self.path = path
    }

    /// Calls `record` for each object and `issue` for each record that is not a JSON object
    /// (a ``TrainingError/badRecord(path:line:reason:)``; `issue` may rethrow it to stop).
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)`` with line 0 when the file cannot
    ///   be read or a JSON array is not closed; whatever `record` or `issue` throw.
    public func forEach(_ record: (Record) throws -> Void, issue: (TrainingError) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TrainingError.badRecord(path: path, line: 0, reason: FileManager.default.fileExists(atPath: path)
                                          ? "cannot read the file" : "no such file")
        }
        defer { try? handle.close() }
        var first = try read(handle)
        var offset = first.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // UTF-8 BOM, as utf-8-sig
        while true {
            while offset < first.count, Self.isWhitespace(first[offset]) { offset += 1 }
            if offset < first.count { break }
            let more = try read(handle)
            if more.isEmpty { return }  // an empty file: no records
            first += more
        }
        if first[offset] == UInt8(ascii: "[") {
            var all = first
            while case let more = try read(handle), !more.isEmpty { all += more }
            try forEachArrayElement(all, from: offset, record, issue: issue)
        } else {
            try forEachLine(handle, pending: first, record, issue: issue)
        }
    }

    private func read(_ handle: FileHandle) throws -> [UInt8] {
        do {
            return [UInt8](try handle.read(upToCount: Self.chunkSize) ?? Data())
        } catch {
            throw TrainingError.badRecord(path: path, line: 0, reason: "cannot read the file (\(error.localizedDescription))")
        }
    }

    private func forEachLine(_ handle: FileHandle, pending start: [UInt8],
                             _ record: (Record) throws -> Void, issue: (TrainingError) throws -> Void) throws {
        var buffer = start
        var cursor = 0  // start of the next unread line in `buffer`
        var line = 0
        var atEnd = false
        while true {
            let end: Int
            if let newline = buffer[cursor...].firstIndex(of: 0x0A) {
                end = newline
            } else if !atEnd {
                // Keep only the unfinished line, then append the next chunk.
                buffer.removeSubrange(..<cursor)
                cursor = 0
                let more = try read(handle)
                if more.isEmpty { atEnd = true } else { buffer += more }
                continue
            } else if cursor < buffer.count {
                end = buffer.count  // a last line without a newline
            } else {
                return
            }
            var bytes = Array(buffer[cursor..<end])
            cursor = min(buffer.count, end + 1)
            line += 1
            if bytes.last == 0x0D { bytes.removeLast() }  // CRLF files
            if bytes.allSatisfy(Self.isWhitespace) { continue }
            try emit(bytes, line: line, record, issue: issue)
        }
    }

    private func forEachArrayElement(_ bytes: [UInt8], from start: Int,
                                     _ record: (Record) throws -> Void, issue: (TrainingError) throws -> Void) throws {
        var line = 1 + bytes[..<start].lazy.filter { $0 == 0x0A }.count
        var i = start + 1
        func skipWhitespace() {
            while i < bytes.count, Self.isWhitespace(bytes[i]) {
                if bytes[i] == 0x0A { line += 1 }
                i += 1
            }
        }
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                skipWhitespace()
                let elementStart = i, elementLine = line
                var depth = 0, inString = false, escaped = false
                scan: while i < bytes.count {
                    let byte = bytes[i]
                    if inString {
                        if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                    } else {
                        switch byte {
                        case UInt8(ascii: "\""): inString = true
                        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                        case UInt8(ascii: "}"), UInt8(ascii: "]"):
                            if depth == 0 { break scan }
                            depth -= 1
                        case UInt8(ascii: ","): if depth == 0 { break scan }
                        default: break
                        }
                    }
                    if byte == 0x0A { line += 1 }
                    i += 1
                }
                guard i < bytes.count else {
                    throw TrainingError.badRecord(path: path, line: elementLine, reason: "the JSON array that starts the file is not closed")
                }
                var element = Array(bytes[elementStart..<i])
                while let last = element.last, Self.isWhitespace(last) { element.removeLast() }
                try emit(element, line: elementLine, record, issue: issue)
                let separator = bytes[i]
                i += 1
                if separator == UInt8(ascii: "]") { break }
                guard separator == UInt8(ascii: ",") else {
                    throw TrainingError.badRecord(path: path, line: line, reason: "expected , or ] between array elements")
                }
            }
        }
        skipWhitespace()
        guard i == bytes.count else {
            throw TrainingError.badRecord(path: path, line: line, reason: "unexpected data after the JSON array")
        }
    }

    private func emit(_ bytes: [UInt8], line: Int, _ record: (Record) throws -> Void, issue: (TrainingError) throws -> Void) throws {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch let error as JSONSyntaxError {
            // The parser counts lines within the record; report the file's line.
            let where_ = error.line > 1 ? " (line \(line + error.line - 1), column \(error.column))" : " (column \(error.column))"
            return try issue(.badRecord(path: path, line: line, reason: "malformed JSON\(where_): \(error.message)"))
        } catch {
            return try issue(.badRecord(path: path, line: line, reason: "malformed JSON: \(error)"))
        }
        guard case .object(let object) = value else {
            return try issue(.badRecord(path: path, line: line, reason: "expected a JSON object, got \(value.kindDescription)"))
        }
        try record(Record(line: line, bytes: bytes, object: object))
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
}
