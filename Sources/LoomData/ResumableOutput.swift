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
///
/// A stage with several outputs (format's train and validation files) passes the others as
/// `companions`: they grow beside the main one and are counted in the same checkpoint, so
/// all of them resume from the same input line.
public final class ResumableOutput {
    /// The final path (of the main output).
    public let path: String
    /// Where the main output grows until `commit()`.
    public let partialPath: String
    /// The checkpoint sidecar.
    public let checkpointPath: String
    /// Input lines (1-based, inclusive) already consumed by the run being resumed; 0 for a fresh run.
    public let resumeLine: Int
    /// The least time between checkpoints (each syncs the output to disk).
    nonisolated(unsafe) static var checkpointInterval: TimeInterval = 1
    private let input: String
    private let inputSize: Int
    // Per output, the main one first: final path, partial path, handle, pending bytes, bytes written.
    private let paths: [String]
    private let partialPaths: [String]
    private let handles: [FileHandle]
    private var buffers: [[UInt8]]
    private var written: [Int]
    private var lastCheckpoint = Date()
    private var checkpoints = 0

    /// Fault injection for tests: after this many checkpoints, the next one flushes the
    /// output written since (so the partial file holds uncheckpointed bytes) and throws.
    nonisolated(unsafe) static var failAfterCheckpoints: Int?

    /// The checkpoint path of an output.
    public static func checkpointPath(for output: String) -> String { output + ".checkpoint.json" }

    /// The partial file an output grows in.
    static func partialPath(for output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".partial"
    }

    /// Opens the output for `input` (and its `companions`); with `resume`, continues from the
    /// checkpoint of a previous run if there is one, restoring its statistics into `stats`.
    /// `inputSize` replaces the size of the file `input` when the input is not one file
    /// (ingest names its file list by a hash and gives their total size): a checkpoint only
    /// resumes the same input.
    public init(path: String, companions: [String] = [], input: String, inputSize: Int? = nil, resume: Bool,
                stats: inout StageStats) throws {
        let paths = [path] + companions
        for output in paths {
            let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DataError("the output folder \(folder) does not exist")
            }
        }
        self.path = path
        self.paths = paths
        self.input = input
        partialPaths = paths.map(Self.partialPath(for:))
        partialPath = partialPaths[0]
        checkpointPath = Self.checkpointPath(for: path)
        self.inputSize = inputSize ?? ((try? FileManager.default.attributesOfItem(atPath: input))?[.size] as? NSNumber)?.intValue ?? -1
        var line = 0
        var sizes = [Int](repeating: 0, count: paths.count)
        if resume, let data = FileManager.default.contents(atPath: checkpointPath) {
            guard case .object(let o)? = try? JSONParser.parse(Array(data)),
                  case .string(let recordedInput)? = o["input"], case .integer(let recordedSize)? = o["input_bytes"],
                  case .integer(let recordedLine)? = o["input_line"], case .integer(let bytes)? = o["output_bytes"],
                  let savedStats = o["stats"] else {
                throw DataError("\(checkpointPath) is not a loom data checkpoint; remove it to start again")
            }
            var companionBytes: [Int] = []
            if case .array(let list)? = o["companion_bytes"] {
                for case .integer(let n) in list { companionBytes.append(n) }
            }
            guard companionBytes.count == companions.count else {
                throw DataError("\(checkpointPath) counts \(companionBytes.count) other outputs, not \(companions.count); run without --resume to start again")
            }
            guard recordedInput == input, recordedSize == self.inputSize else {
                throw DataError("\(checkpointPath) was written for \(recordedInput) (\(recordedSize) bytes), not \(input) (\(self.inputSize) bytes); run without --resume to start again")
            }
            sizes = [bytes] + companionBytes
            for (partial, size) in zip(partialPaths, sizes) {
                let partialSize = ((try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? NSNumber)?.intValue ?? -1
                guard partialSize >= size else {
                    throw DataError("\(partial) is shorter (\(partialSize) bytes) than its checkpoint (\(size) bytes); run without --resume to start again")
                }
                guard truncate(partial, off_t(size)) == 0 else {
                    throw DataError("cannot truncate \(partial): \(String(cString: strerror(errno)))")
                }
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
        } else {
            try? FileManager.default.removeItem(atPath: checkpointPath)
            for partial in partialPaths {
                guard FileManager.default.createFile(atPath: partial, contents: nil) else {
                    throw DataError("cannot create \(partial) (is its folder writable?)")
                }
            }
        }
        var handles: [FileHandle] = []
        for partial in partialPaths {
            guard let handle = FileHandle(forWritingAtPath: partial) else { throw DataError("cannot open \(partial) for writing") }
            do { try handle.seekToEnd() } catch { throw DataError("cannot seek in \(partial): \(error)") }
            handles.append(handle)
        }
        self.handles = handles
        written = sizes
        buffers = Array(repeating: [], count: paths.count)
        resumeLine = line
    }

    deinit { for handle in handles { try? handle.close() } }

    /// Appends bytes to the main output (`output` 0) or to companion `output` (1, 2, …).
    public func write(_ bytes: [UInt8], to output: Int = 0) throws {
        buffers[output].append(contentsOf: bytes)
        written[output] += bytes.count
        if buffers[output].count >= 1 << 20 { try flush(output) }
    }

    private func flush(_ output: Int) throws {
        guard !buffers[output].isEmpty else { return }
        do { try handles[output].write(contentsOf: buffers[output]) } catch {
            throw DataError("cannot write \(partialPaths[output]): \(error)")
        }
        buffers[output].removeAll(keepingCapacity: true)
    }

    /// Records that input lines up to `line` are fully written, with the statistics so far
    /// (at most once per `checkpointInterval`).
    public func checkpoint(line: Int, stats: StageStats) throws {
        guard Date().timeIntervalSince(lastCheckpoint) >= Self.checkpointInterval else { return }
        for output in paths.indices { try flush(output) }
        if let limit = Self.failAfterCheckpoints, checkpoints >= limit {
            throw DataError("injected failure after \(checkpoints) checkpoints")
        }
        // The outputs must be on disk before the checkpoint that counts them.
        for (handle, partial) in zip(handles, partialPaths) {
            do { try handle.synchronize() } catch { throw DataError("cannot sync \(partial): \(error)") }
        }
        var record: JSONObject = [
            "input": .string(input), "input_bytes": .integer(inputSize), "input_line": .integer(line),
            "output_bytes": .integer(written[0]), "stats": stats.json,
        ]
        if paths.count > 1 { record["companion_bytes"] = .array(written.dropFirst().map { .integer($0) }) }
        try AtomicFileWriter.write(JSONWriter.string(.object(record)) + "\n", to: checkpointPath)
        checkpoints += 1
        lastCheckpoint = Date()
    }

    /// Flushes, syncs and renames every output into place; removes the checkpoint.
    public func commit() throws {
        for output in paths.indices {
            try flush(output)
            try? handles[output].synchronize()
            try handles[output].close()
        }
        for (partial, final) in zip(partialPaths, paths) where rename(partial, final) != 0 {
            throw DataError("cannot rename \(partial) to \(final): \(String(cString: strerror(errno)))")
        }
        try? FileManager.default.removeItem(atPath: checkpointPath)
    }
}
