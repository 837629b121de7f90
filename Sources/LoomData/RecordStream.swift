import Dispatch
import Foundation

/// Streams the records of a JSONL file in batches, and maps batches over all cores.
///
/// Memory is bounded by one batch of records (at most `batchSize` records and about
/// `maxBatchBytes` of JSON, plus the reader's chunk), whatever the size of the file. Lines
/// that are not records, or are longer than the limit, are counted in the stage's statistics
/// (`malformed_lines`, `lines_too_long`) and skipped.
public enum RecordStream {
    /// Records per batch: enough to keep two or more cores busy, small enough to stay in cache-sized memory.
    public static let defaultBatchSize = 2048

    /// Bytes of JSON lines per batch at most (a batch also ends here, before `batchSize`
    /// records), so that a batch of long documents cannot hold gigabytes: a stage holds about
    /// four copies of a batch at once (lines, records, results, encoded output).
    nonisolated(unsafe) public static var maxBatchBytes = 16 << 20

    /// Report progress (bytes read of the input) on standard error, one line redrawn per batch.
    /// The CLI sets it when standard error is a terminal.
    nonisolated(unsafe) public static var showsProgress = false

    /// Calls `body` with consecutive batches of the records of `path`, in file order.
    ///
    /// Lines up to `startLine` (1-based) are skipped unread, for a resumed run; after each
    /// batch, `afterBatch` gets the number of the last line consumed (for a checkpoint).
    public static func forEachBatch(
        path: String, batchSize: Int = defaultBatchSize, maxLineBytes: Int = 64 << 20, startLine: Int = 0,
        stats: inout StageStats, afterBatch: ((Int, StageStats) throws -> Void)? = nil,
        _ body: ([DataRecord], inout StageStats) throws -> Void
    ) throws {
        let reader = try LineReader(path: path, maxLineBytes: maxLineBytes)
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        let name = URL(fileURLWithPath: path).lastPathComponent
        func progress(final: Bool = false) {
            guard showsProgress, total > 0 else { return }
            let percent = min(100, reader.bytesRead * 100 / total)
            FileHandle.standardError.write(Data((final ? "\r\u{1B}[K" : "\r\(name): \(percent) % of \(total >> 20) MiB").utf8))
        }
        defer { progress(final: true) }
        // Lines are gathered on this thread and parsed on all cores.
        var lines: [(number: Int, bytes: [UInt8])] = []
        lines.reserveCapacity(batchSize)
        var pendingBytes = 0
        func flush() throws {
            let parsed = parallelMap(lines) { line -> Result<DataRecord, Error> in Result { try DataRecord(jsonLine: line.bytes) } }
            var batch: [DataRecord] = []
            batch.reserveCapacity(parsed.count)
            for (line, result) in zip(lines, parsed) {
                switch result {
                case .success(let record):
                    stats.documentsIn += 1
                    stats.bytesIn += record.text.utf8.count
                    batch.append(record)
                case .failure(let error):
                    stats.error("\(path):\(line.number)", "not a record: \(error)", counter: "malformed_lines")
                }
            }
            lines.removeAll(keepingCapacity: true)
            pendingBytes = 0
            progress()
            if !batch.isEmpty { try body(batch, &stats) }
            try afterBatch?(reader.lineNumber, stats)
        }
        while let line = try reader.next() {
            if reader.lineNumber <= startLine { continue }
            switch line {
            case .tooLong(let bytes):
                stats.error("\(path):\(reader.lineNumber)", "line of \(bytes) bytes is longer than the limit of \(maxLineBytes) bytes; skipped", counter: "lines_too_long")
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                lines.append((reader.lineNumber, bytes))
                pendingBytes += bytes.count
            }
            if lines.count >= batchSize || pendingBytes >= maxBatchBytes { try flush() }
        }
        if !lines.isEmpty { try flush() }
    }

    /// Appends the JSON lines of `records` to `buffer` and counts them as written, encoding
    /// on all cores.
    public static func encode(_ records: [DataRecord], into buffer: inout [UInt8], stats: inout StageStats) {
        let encoded = parallelMap(records) { record -> ([UInt8], Int) in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(record.text.utf8.count + 64)
            record.writeJSONLine(into: &bytes)
            return (bytes, StageStats.wordCount(record.text))
        }
        for (record, (bytes, words)) in zip(records, encoded) {
            stats.documentsOut += 1
            stats.bytesOut += record.text.utf8.count
            stats.wordsOut += words
            buffer.append(contentsOf: bytes)
        }
    }

    /// `items.map(transform)` spread over all cores; results keep the order of `items`.
    public static func parallelMap<T, U>(_ items: [T], _ transform: (T) -> U) -> [U] {
        let n = items.count
        if n < 2 { return items.map(transform) }
        var results = [U?](repeating: nil, count: n)
        let chunk = max(1, min(64, n / 16))
        let chunks = (n + chunk - 1) / chunk
        results.withUnsafeMutableBufferPointer { out in
            items.withUnsafeBufferPointer { input in
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let lo = c * chunk
                    let hi = min(n, lo + chunk)
                    for i in lo ..< hi { out[i] = transform(input[i]) }
                }
            }
        }
        return results.map { $0! }
    }
}
