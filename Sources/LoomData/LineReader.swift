import Foundation

/// Reads a file line by line in fixed-size chunks, so memory stays bounded by the chunk size
/// plus the longest accepted line, never by the file.
///
/// A line longer than `maxLineBytes` is not buffered: it is skipped to its end and reported
/// as `.tooLong`, so one huge line (a minified page, a corrupted dump) cannot exhaust memory.
/// Line ends are `\n`; a `\r` before it is dropped.
public final class LineReader {
    /// One line of input.
    public enum Line: Equatable {
        /// The bytes of a line, without its line end.
        case line([UInt8])
        /// A line longer than the limit, skipped; its length in bytes.
        case tooLong(bytes: Int)
    }

    private let handle: FileHandle
    private let chunkSize: Int
    /// The longest line returned; longer lines are skipped.
    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    /// The number of the line last returned (1-based).
    public private(set) var lineNumber = 0
    /// Bytes read from the file so far.
    public private(set) var bytesRead = 0

    /// Opens `path` for reading.
    public init(path: String, maxLineBytes: Int = 64 << 20, chunkSize: Int = 1 << 20) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DataError("cannot open \(path) for reading")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw DataError("\(path) is a folder, not a JSONL file")
        }
        self.handle = handle
        self.maxLineBytes = maxLineBytes
        self.chunkSize = chunkSize
    }

    deinit { try? handle.close() }

    /// Reads more bytes into the buffer; false at the end of the file.
    private func fill() throws -> Bool {
        if atEnd { return false }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0 ..< start)
            start = 0
        }
        let data = try handle.read(upToCount: chunkSize) ?? Data()
        if data.isEmpty { atEnd = true; return false }
        bytesRead += data.count
        buffer.append(contentsOf: data)
        return true
    }

    /// The next line, or nil at the end of the file.
    public func next() throws -> Line? {
        var searchFrom = start
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: 0x0A) {
                lineNumber += 1
                let length = newline - start
                if length > maxLineBytes {
                    start = newline + 1
                    return .tooLong(bytes: length)
                }
                var end = newline
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                let line = Array(buffer[start ..< end])
                start = newline + 1
                return .line(line)
            }
            if buffer.count - start > maxLineBytes {
                // Too long: drop what is buffered and skip to the next newline.
                var skipped = buffer.count - start
                buffer.removeAll(keepingCapacity: true)
                start = 0
                while true {
                    guard try fill() else { break }
                    if let newline = buffer.firstIndex(of: 0x0A) {
                        skipped += newline
                        start = newline + 1
                        lineNumber += 1
                        return .tooLong(bytes: skipped)
                    }
                    skipped += buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
                lineNumber += 1
                return .tooLong(bytes: skipped)
            }
            let scanned = buffer.count - start
            guard try fill() else {
                guard start < buffer.count else { return nil }
                lineNumber += 1
                var line = Array(buffer[start...])
                if line.last == 0x0D { line.removeLast() }
                start = buffer.count
                return .line(line)
            }
            // `fill` may have compacted the buffer (moving `start`): resume after the bytes already searched.
            searchFrom = start + scanned
        }
    }
}
