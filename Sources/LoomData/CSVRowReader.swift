/// Reads RFC 4180 CSV rows from a file as a stream: quoted fields may hold commas, doubled
/// quotes and line breaks. Memory is bounded by the longest row (`maxRowBytes`).
public final class CSVRowReader {
    private let lines: LineReader
    private let maxRowBytes: Int
    /// The line number where the last returned row ended.
    public var lineNumber: Int { lines.lineNumber }

    /// Opens a CSV file.
    public init(path: String, maxRowBytes: Int = 64 << 20) throws {
        lines = try LineReader(path: path, maxLineBytes: maxRowBytes)
        self.maxRowBytes = maxRowBytes
    }

    /// The next row's fields, or nil at the end; throws for a row longer than the limit.
    public func next() throws -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var started = false
        var rowBytes = 0
        while let line = try lines.next() {
            guard case .line(let bytes) = line else {
                throw DataError("line \(lines.lineNumber) is longer than \(maxRowBytes) bytes")
            }
            if !started && bytes.isEmpty { continue }  // blank line between rows
            if started { field.append(0x0A) }  // a line break inside a quoted field
            started = true
            rowBytes += bytes.count + 1
            if rowBytes > maxRowBytes { throw DataError("a row ending at line \(lines.lineNumber) is longer than \(maxRowBytes) bytes") }
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if inQuotes {
                    if b == UInt8(ascii: "\"") {
                        if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 1 }
                        else { inQuotes = false }
                    } else {
                        field.append(b)
                    }
                } else if b == UInt8(ascii: "\"") && field.isEmpty {
                    inQuotes = true
                } else if b == UInt8(ascii: ",") {
                    fields.append(String(decoding: field, as: UTF8.self))
                    field.removeAll(keepingCapacity: true)
                } else {
                    field.append(b)
                }
                i += 1
            }
            if !inQuotes {
                fields.append(String(decoding: field, as: UTF8.self))
                return fields
            }
        }
        if started {
            // An unterminated quote at the end of the file: keep what was read.
            fields.append(String(decoding: field, as: UTF8.self))
            return fields
        }
        return nil
    }
}
