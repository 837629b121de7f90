import Dispatch
import Foundation

/// Streams the records of a JSONL file in batches, and maps batches over all cores.
///
/// Memory is bounded by one batch of records (plus the reader's chunk), whatever the size of
/// the file. Lines that are not records, or are longer than the limit, are counted in the
/// stage's statistics (`malformed_lines`, `lines_too_long`) and skipped.
public enum RecordStream {
    /// Records per batch: enough to keep two or more cores busy, small enough to stay in cache-sized memory.
    public static let defaultBatchSize = 2048

    /// Report progress (bytes read of the input) on standard error, one line redrawn per batch.
    /// The CLI sets it when standard error is a terminal.
    nonisolated(unsafe) public static var showsProgress = false

    /// Calls `body` with consecutive batches of the records of `path`, in file order.
    public static func forEachBatch(
        path: String, batchSize: Int = defaultBatchSize, maxLineBytes: Int = 64 << 20,
        stats: inout StageStats, _ body: ([DataRecord], inout StageStats) throws -> Void
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
        var batch: [DataRecord] = []
        batch.reserveCapacity(batchSize)
        while let line = try reader.next() {
            switch line {
            case .tooLong(let bytes):
                stats.error("\(path):\(reader.lineNumber)", "line of \(bytes) bytes is longer than the limit of \(maxLineBytes) bytes; skipped", counter: "lines_too_long")
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                do {
                    let record = try DataRecord(jsonLine: bytes)
                    stats.documentsIn += 1
                    stats.bytesIn += record.text.utf8.count
                    batch.append(record)
                } catch {
                    stats.error("\(path):\(reader.lineNumber)", "not a record: \(error)", counter: "malformed_lines")
                }
            }
            if batch.count >= batchSize {
                progress()
                try body(batch, &stats)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try body(batch, &stats) }
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
