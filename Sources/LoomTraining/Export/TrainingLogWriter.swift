import Foundation

/// Appends ``TrainingLogEntry`` lines to a JSONL training log, one `write` per line, so a
/// crash (even `kill -9`) leaves at most a torn last line, which ``read(path:)`` ignores.
///
/// ```swift
/// let log = try TrainingLogWriter(path: "out/train_log.jsonl", resumingAfter: checkpoint.step)
/// try log.append(TrainingLogEntry(step: 1, loss: 2.31, learningRate: 1e-5, gradNorm: 0.8, tokensPerSecond: 410))
/// ```
public final class TrainingLogWriter {
    public let path: String
    private let handle: FileHandle

    /// Opens `path` for appending, creating it if needed.
    /// - Parameter step: when resuming from a checkpoint taken after optimiser step `step`, the
    ///   entries after it (logged by the interrupted run but not covered by the checkpoint) are
    ///   removed first, so the resumed log reads as one uninterrupted run. nil starts a new log
    ///   (an existing file is replaced).
    /// - Throws: ``TrainingError/exportFailed(path:reason:)``.
    public init(path: String, resumingAfter step: Int? = nil) throws {
        self.path = path
        var kept = ""
        if let step, FileManager.default.fileExists(atPath: path) {
            kept = try Self.read(path: path).filter { $0.step <= step }.map { $0.jsonLine + "\n" }.joined()
        }
        do {
            // Atomic replacement: a crash here leaves either the old log or the trimmed one.
            try Data(kept.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TrainingError.exportFailed(path: path, reason: error.localizedDescription)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.exportFailed(path: path, reason: "cannot open the file for writing")
        }
        self.handle = handle
        _ = try? handle.seekToEnd()
    }

    deinit {
        try? handle.close()
    }

    /// Appends one line.
    /// - Throws: ``TrainingError/exportFailed(path:reason:)`` (e.g. a full disk).
    public func append(_ entry: TrainingLogEntry) throws {
        do {
            try handle.write(contentsOf: Data((entry.jsonLine + "\n").utf8))
        } catch {
            throw TrainingError.exportFailed(path: path, reason: error.localizedDescription)
        }
    }

    /// The entries of a log. A last line without its newline (torn by a crash) is skipped.
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)`` for a malformed complete line.
    public static func read(path: String) throws -> [TrainingLogEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.badRecord(path: path, line: 0, reason: "cannot read the file")
        }
        let bytes = [UInt8](data)
        var entries: [TrainingLogEntry] = []
        var start = 0, line = 0
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            line += 1
            let text = Array(bytes[start..<newline])
            start = newline + 1
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            entries.append(try TrainingLogEntry(jsonLine: text, path: path, line: line))
        }
        return entries
    }
}
