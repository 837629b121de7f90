import Foundation
import LoomJinja

/// A stage's JSONL output that survives a crash: `--resume` continues where the last run
/// stopped, with no output line lost or written twice.
///
/// The output grows in `.NAME.partial` next to `path`; after a batch (at most once per
/// `checkpointInterval`) the partial file is synced and then `OUT.checkpoint.json` is
/// replaced atomically with the input line reached, the partial file's length and the
/// statistics so far — the two facts committed together. Bytes written after the last
/// checkpoint are cut off on resume, and the input is read again from the line after the
/// checkpoint's. `commit()` renames the partial file over `path` and removes the checkpoint,
/// so `path` itself only ever holds a complete output (as with `AtomicFileWriter`).
public final class ResumableOutput {
    /// The final path.
    public let path: String
    /// Where the output grows until `commit()`.
    public let partialPath: String
    /// The checkpoint sidecar.
    public let checkpointPath: String
    /// Input lines (1-based, inclusive) already consumed by the run being resumed; 0 for a fresh run.
    public let resumeLine: Int
    /// The least time between checkpoints (each syncs the output to disk).
    nonisolated(unsafe) static var checkpointInterval: TimeInterval = 1
    private let input: String
    private let inputSize: Int
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var written = 0
    private var lastCheckpoint = Date()
    private var checkpoints = 0

    /// Fault injection for tests: after this many checkpoints, the next one flushes the
    /// output written since (so the partial file holds uncheckpointed bytes) and throws.
    nonisolated(unsafe) static var failAfterCheckpoints: Int?

    /// The checkpoint path of an output.
    public static func checkpointPath(for output: String) -> String { output + ".checkpoint.json" }

    /// Opens the output for `input`; with `resume`, continues from the checkpoint of a
    /// previous run if there is one, restoring its statistics into `stats`. `inputSize`
    /// replaces the size of the file `input` when the input is not one file (ingest names its
    /// file list by a hash and gives their total size): a checkpoint only resumes the same input.
    public init(path: String, input: String, inputSize: Int? = nil, resume: Bool, stats: inout StageStats) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError("the output folder \(folder) does not exist")
        }
        self.path = path
        self.input = input
        self.partialPath = folder + "/." + url.lastPathComponent + ".partial"
        self.checkpointPath = Self.checkpointPath(for: path)
        self.inputSize = inputSize ?? ((try? FileManager.default.attributesOfItem(atPath: input))?[.size] as? NSNumber)?.intValue ?? -1
        var line = 0
        if resume, let data = FileManager.default.contents(atPath: checkpointPath) {
            guard case .object(let o)? = try? JSONParser.parse(Array(data)),
                  case .string(let recordedInput)? = o["input"], case .integer(let recordedSize)? = o["input_bytes"],
                  case .integer(let recordedLine)? = o["input_line"], case .integer(let bytes)? = o["output_bytes"],
                  let savedStats = o["stats"] else {
                throw DataError("\(checkpointPath) is not a loom data checkpoint; remove it to start again")
            }
            guard recordedInput == input, recordedSize == self.inputSize else {
                throw DataError("\(checkpointPath) was written for \(recordedInput) (\(recordedSize) bytes), not \(input) (\(self.inputSize) bytes); run without --resume to start again")
            }
            let partialSize = ((try? FileManager.default.attributesOfItem(atPath: partialPath))?[.size] as? NSNumber)?.intValue ?? -1
            guard partialSize >= bytes else {
                throw DataError("\(partialPath) is shorter (\(partialSize) bytes) than its checkpoint (\(bytes) bytes); run without --resume to start again")
            }
            guard truncate(partialPath, off_t(bytes)) == 0 else {
                throw DataError("cannot truncate \(partialPath): \(String(cString: strerror(errno)))")
            }
            let restored = try StageStats(json: savedStats, source: checkpointPath)
            stats.counters = restored.counters
            stats.documentsIn = restored.documentsIn
            stats.documentsOut = restored.documentsOut
            stats.bytesIn = restored.bytesIn
            stats.bytesOut = restored.bytesOut
            stats.wordsOut = restored.wordsOut
            stats.errors = restored.errors
            stats.errorCount = restored.errorCount
            stats.count("resumed_at_line", recordedLine)
            line = recordedLine
            written = bytes
        } else {
            try? FileManager.default.removeItem(atPath: checkpointPath)
            guard FileManager.default.createFile(atPath: partialPath, contents: nil) else {
                throw DataError("cannot create \(partialPath) (is \(folder) writable?)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: partialPath) else { throw DataError("cannot open \(partialPath) for writing") }
        do { try handle.seekToEnd() } catch { throw DataError("cannot seek in \(partialPath): \(error)") }
        self.handle = handle
        resumeLine = line
        buffer.reserveCapacity(1 << 20)
    }

    deinit { try? handle.close() }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        written += bytes.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: buffer) } catch { throw DataError("cannot write \(partialPath): \(error)") }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Records that input lines up to `line` are fully written, with the statistics so far
    /// (at most once per `checkpointInterval`).
    public func checkpoint(line: Int, stats: StageStats) throws {
        guard Date().timeIntervalSince(lastCheckpoint) >= Self.checkpointInterval else { return }
        try flush()
        if let limit = Self.failAfterCheckpoints, checkpoints >= limit {
            throw DataError("injected failure after \(checkpoints) checkpoints")
        }
        // The output must be on disk before the checkpoint that counts it.
        do { try handle.synchronize() } catch { throw DataError("cannot sync \(partialPath): \(error)") }
        let record: JSONObject = [
            "input": .string(input), "input_bytes": .integer(inputSize), "input_line": .integer(line),
            "output_bytes": .integer(written), "stats": stats.json,
        ]
        try AtomicFileWriter.write(JSONWriter.string(.object(record)) + "\n", to: checkpointPath)
        checkpoints += 1
        lastCheckpoint = Date()
    }

    /// Flushes, syncs and renames the output into place; removes the checkpoint.
    public func commit() throws {
        try flush()
        try? handle.synchronize()
        try handle.close()
        if rename(partialPath, path) != 0 {
            throw DataError("cannot rename \(partialPath) to \(path): \(String(cString: strerror(errno)))")
        }
        try? FileManager.default.removeItem(atPath: checkpointPath)
    }
}
