import Foundation
import LoomJinja

/// `loom data ingest`: turns files and folders of documents into JSONL records.
///
/// Folders are walked recursively in sorted order (hidden files and folders skipped).
/// `.txt`/`.md` are read as text, `.html`/`.htm` go through `HTMLTextExtractor`,
/// `.json` (an object or an array of objects) and `.jsonl` give one record per object from
/// `field`, `.csv` one per row from the column `field`, and `.pdf` is converted by
/// `pdftotext` (poppler-utils) when it is installed. A bad file (binary, unreadable, too
/// large, broken) is counted and listed in the statistics and never stops the run; invalid
/// UTF-8 is repaired (U+FFFD) and counted. Whole-file formats are read in parallel batches of
/// at most `batchBytes` (256 MiB) and each at most `maxFileBytes`; `.jsonl` and `.csv` are
/// streamed, so their size is not bounded by memory.
public struct DocumentIngester {
    /// Options of an ingest run.
    public struct Options: Sendable {
        /// The JSON/JSONL field or CSV column holding the text.
        public var field = "text"
        /// Files larger than this (except streamed `.jsonl`/`.csv`) are skipped with an error.
        public var maxFileBytes = 64 << 20
        /// The `pdftotext` executable; nil to look for it on `PATH` (when `searchPath`).
        public var pdftotext: String?
        /// Look for `pdftotext` on `PATH` when `pdftotext` is nil.
        public var searchPath = true
        /// Files read in parallel per batch…
        public var batchSize = 64
        /// …and at most this many bytes of them, which bounds memory (a batch's files are held whole).
        public var batchBytes = 256 << 20
        /// Defaults.
        public init() {}
    }

    /// The options.
    public var options: Options
    /// Continue from the checkpoint of an interrupted run (see `ResumableOutput`): files
    /// whose records were all checkpointed are not read again, and no output line is lost
    /// or written twice.
    public var resume = false
    /// The HTML extractor.
    public var extractor = HTMLTextExtractor()

    /// An ingester with `options`.
    public init(options: Options = Options()) { self.options = options }

    /// The stable id of a document: a hash of its source and its text, so re-ingesting the same
    /// files gives the same ids and an edited file gets a new one.
    public static func documentID(source: String, text: String) -> String {
        var bytes = Array(source.utf8)
        bytes.append(0)
        bytes.append(contentsOf: text.utf8)
        return StableHash.hex(StableHash.hash64(bytes, seed: 0x6C6F_6F6D))
    }

    /// Extensions this stage reads.
    public static let supportedExtensions: Set<String> = ["txt", "md", "markdown", "html", "htm", "xhtml", "json", "jsonl", "csv", "pdf"]

    /// Ingests `paths` into the JSONL file `output` (written atomically, with its statistics
    /// sidecar). The run checkpoints after whole files (``resume``); the checkpoint names the
    /// file list by a hash of the paths and their sizes, so it only resumes the same input.
    public func run(paths: [String], output: String, progress: ((Int, Int) -> Void)? = nil) throws -> StageStats {
        let started = Date()
        var stats = StageStats(stage: "ingest", inputs: paths, output: output)
        var scan = StageStats(stage: "ingest", inputs: paths, output: output)
        let files = collectFiles(paths, stats: &scan)
        var listing: [UInt8] = []
        var totalBytes = 0
        for file in files {
            let size = ((try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber)?.intValue ?? 0
            totalBytes += size
            listing += Array("\(file.root)\u{0}\(file.path)\u{0}\(size)\n".utf8)
        }
        let identity = "ingest of \(files.count) files, list \(StableHash.hex(StableHash.hash64(listing, seed: 0x6C6F_6F6D)))"
        let writer = try ResumableOutput(path: output, input: identity, inputSize: totalBytes, resume: resume, stats: &stats)
        // A resumed run's statistics (restored above) already hold the scan's.
        if writer.resumeLine == 0 {
            for (key, value) in scan.counters { stats.count(key, value) }
            stats.errors = scan.errors
            stats.errorCount = scan.errorCount
            stats.count("files_found", files.count)
        }
        let pdftotext = options.pdftotext ?? (options.searchPath ? Self.findExecutable("pdftotext") : nil)
        var pending: [(root: String, path: String)] = []
        var pendingBytes = 0
        var done = writer.resumeLine

        func flushPending() throws {
            guard !pending.isEmpty else { return }
            let results = RecordStream.parallelMap(pending) { readWholeFile($0.path, root: $0.root, pdftotext: pdftotext) }
            for result in results {
                try emit(result, writer: writer, stats: &stats)
            }
            done += pending.count
            try writer.checkpoint(line: done, stats: stats)
            progress?(done, files.count)
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }

        for file in files.dropFirst(writer.resumeLine) {
            let ext = URL(fileURLWithPath: file.path).pathExtension.lowercased()
            if ext == "jsonl" || ext == "csv" {
                try flushPending()
                var result = FileResult()
                var buffer: [UInt8] = []
                // A failure to write the output stops the run; it is not a problem of the input file.
                var writeFailure: Error?
                stream(file.path, root: file.root, ext: ext, result: &result) { record in
                    guard writeFailure == nil else { return }
                    stats.documentsIn += 1
                    stats.bytesIn += record.text.utf8.count
                    stats.wrote(record)
                    buffer.removeAll(keepingCapacity: true)
                    record.writeJSONLine(into: &buffer)
                    do { try writer.write(buffer) } catch { writeFailure = error }
                }
                if let writeFailure { throw writeFailure }
                try emit(result, writer: writer, stats: &stats)
                done += 1
                try writer.checkpoint(line: done, stats: stats)
                progress?(done, files.count)
            } else {
                let size = ((try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? NSNumber)?.intValue ?? 0
                if !pending.isEmpty && pendingBytes + min(size, options.maxFileBytes) > options.batchBytes { try flushPending() }
                pending.append(file)
                pendingBytes += min(size, options.maxFileBytes)
                if pending.count >= options.batchSize { try flushPending() }
            }
        }
        try flushPending()
        try writer.commit()
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }

    /// What reading one file produced.
    struct FileResult {
        var records: [DataRecord] = []
        var counters: [String: Int] = [:]
        var errors: [(source: String, message: String, counter: String)] = []
        mutating func error(_ source: String, _ message: String, _ counter: String) { errors.append((source, message, counter)) }
    }

    private func emit(_ result: FileResult, writer: ResumableOutput, stats: inout StageStats) throws {
        for (key, value) in result.counters { stats.count(key, value) }
        for e in result.errors { stats.error(e.source, e.message, counter: e.counter) }
        var buffer: [UInt8] = []
        for record in result.records {
            stats.documentsIn += 1
            stats.bytesIn += record.text.utf8.count
            stats.wrote(record)
            record.writeJSONLine(into: &buffer)
        }
        if !buffer.isEmpty { try writer.write(buffer) }
    }

    /// Files to read under `paths`, each with the argument it was found under (its "site").
    func collectFiles(_ paths: [String], stats: inout StageStats) -> [(root: String, path: String)] {
        var files: [(root: String, path: String)] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                stats.error(path, "no such file or folder", counter: "missing_paths")
                continue
            }
            if !isDirectory.boolValue {
                files.append((path, path))
                continue
            }
            guard let enumerator = fm.enumerator(at: URL(fileURLWithPath: path), includingPropertiesForKeys: [.isRegularFileKey],
                                                 options: [.skipsHiddenFiles]) else {
                stats.error(path, "cannot list the folder", counter: "unreadable")
                continue
            }
            var found: [String] = []
            for case let url as URL in enumerator {
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
                let ext = url.pathExtension.lowercased()
                if Self.supportedExtensions.contains(ext) { found.append(url.path) } else { stats.count("skipped_unsupported") }
            }
            if found.isEmpty { stats.error(path, "the folder holds no supported files (\(Self.supportedExtensions.sorted().joined(separator: ", ")))", counter: "empty_folders") }
            for file in found.sorted() { files.append((path, file)) }
        }
        return files
    }

    func makeRecord(source: String, root: String, format: String, text: String, extra: JSONObject = [:]) -> DataRecord {
        var fields: JSONObject = ["site": .string(root), "format": .string(format)]
        for (key, value) in extra {
            let name = ["id", "source", "text", "site", "format"].contains(key) ? "orig_" + key : key
            fields[name] = value
        }
        return DataRecord(id: Self.documentID(source: source, text: text), source: source, text: text, extra: fields)
    }

    /// Reads a whole-file format (`.txt`, `.md`, `.html`, `.json`, `.pdf`).
    func readWholeFile(_ path: String, root: String, pdftotext: String?) -> FileResult {
        var result = FileResult()
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        if ext == "pdf" {
            guard let pdftotext else {
                result.error(path, "pdftotext (poppler-utils) is not installed; install it to ingest PDF files", "pdf_without_pdftotext")
                return result
            }
            do {
                let text = try Self.runPDFToText(pdftotext, path)
                addText(text, path: path, root: root, format: "pdf", result: &result)
            } catch {
                result.error(path, "\(error)", "pdf_failed")
            }
            return result
        }
        guard let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue else {
            result.error(path, "cannot read the file's attributes", "unreadable")
            return result
        }
        if size > options.maxFileBytes {
            result.error(path, "\(size) bytes is larger than --max-file-bytes \(options.maxFileBytes); skipped", "too_large")
            return result
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            result.error(path, "cannot read the file (permissions?)", "unreadable")
            return result
        }
        let text: String
        switch TextDecoding.decode(Array(data)) {
        case .binary:
            result.error(path, "binary content (NUL bytes), not text; skipped", "binary")
            return result
        case .text(let s): text = s
        case .repaired(let s, let invalid):
            result.error(path, "invalid UTF-8: \(invalid) sequence(s) replaced by U+FFFD", "repaired_utf8_files")
            result.counters["repaired_utf8_sequences", default: 0] += invalid
            text = s
        }
        switch ext {
        case "html", "htm", "xhtml":
            addText(extractor.extract(text), path: path, root: root, format: "html", result: &result)
        case "json":
            readJSON(text, path: path, root: root, result: &result)
        default:
            addText(text, path: path, root: root, format: ext == "txt" ? "text" : "markdown", result: &result)
        }
        return result
    }

    private func addText(_ text: String, path: String, root: String, format: String, result: inout FileResult) {
        if text.allSatisfy({ $0.isWhitespace }) {
            result.counters["empty_documents", default: 0] += 1
            return
        }
        result.records.append(makeRecord(source: path, root: root, format: format, text: text))
    }

    private func readJSON(_ text: String, path: String, root: String, result: inout FileResult) {
        let value: JSONValue
        do { value = try JSONParser.parse(Array(text.utf8)) } catch {
            result.error(path, "broken JSON: \(error)", "broken_json")
            return
        }
        let items: [JSONValue]
        switch value {
        case .array(let a): items = a
        case .object: items = [value]
        default:
            result.error(path, "a .json file must hold an object or an array of objects, not \(value.kindDescription)", "broken_json")
            return
        }
        for (n, item) in items.enumerated() {
            let source = items.count == 1 && value.kindDescription == "an object" ? path : "\(path)#\(n + 1)"
            if let record = recordFromObject(item, source: source, root: root, format: "json", result: &result) {
                result.records.append(record)
            }
        }
    }

    private func recordFromObject(_ item: JSONValue, source: String, root: String, format: String, result: inout FileResult) -> DataRecord? {
        guard case .object(var members) = item else {
            result.error(source, "not a JSON object but \(item.kindDescription)", "missing_field")
            return nil
        }
        guard case .string(let text)? = members.removeValue(forKey: options.field) else {
            result.error(source, "no string field \"\(options.field)\" (choose one with --field)", "missing_field")
            return nil
        }
        if text.allSatisfy({ $0.isWhitespace }) {
            result.counters["empty_documents", default: 0] += 1
            return nil
        }
        return makeRecord(source: source, root: root, format: format, text: text, extra: members)
    }

    /// Streams `.jsonl` or `.csv`, calling `emit` per record.
    private func stream(_ path: String, root: String, ext: String, result: inout FileResult, emit: (DataRecord) throws -> Void) {
        do {
            if ext == "jsonl" {
                let reader = try LineReader(path: path, maxLineBytes: options.maxFileBytes)
                while let line = try reader.next() {
                    let source = "\(path)#\(reader.lineNumber)"
                    switch line {
                    case .tooLong(let bytes):
                        result.error(source, "line of \(bytes) bytes is longer than --max-file-bytes; skipped", "lines_too_long")
                    case .line(let bytes):
                        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                        let value: JSONValue
                        do { value = try JSONParser.parse(bytes) } catch {
                            result.error(source, "broken JSON: \(error)", "broken_json")
                            continue
                        }
                        if let record = recordFromObject(value, source: source, root: root, format: "jsonl", result: &result) {
                            try emit(record)
                        }
                    }
                }
            } else {
                let reader = try CSVRowReader(path: path, maxRowBytes: options.maxFileBytes)
                guard let header = try reader.next() else {
                    result.counters["empty_documents", default: 0] += 1
                    return
                }
                let names = header.map { $0.trimmingCharacters(in: .whitespaces) }
                guard let column = names.firstIndex(of: options.field) else {
                    result.error(path, "no column \"\(options.field)\" in the header (\(names.joined(separator: ", "))); choose one with --field", "missing_field")
                    return
                }
                var row = 1
                while let fields = try reader.next() {
                    row += 1
                    let source = "\(path)#\(row)"
                    guard column < fields.count else {
                        result.error(source, "row has \(fields.count) fields, no column \(column + 1)", "missing_field")
                        continue
                    }
                    let text = fields[column]
                    if text.allSatisfy({ $0.isWhitespace }) { result.counters["empty_documents", default: 0] += 1; continue }
                    var extra: JSONObject = [:]
                    for (i, name) in names.enumerated() where i != column && i < fields.count && !name.isEmpty { extra[name] = .string(fields[i]) }
                    try emit(makeRecord(source: source, root: root, format: "csv", text: text, extra: extra))
                }
            }
        } catch let error as DataError {
            result.error(path, error.message, "unreadable")
        } catch {
            result.error(path, "\(error)", "unreadable")
        }
    }

    /// Runs `pdftotext FILE -` and returns its UTF-8 output.
    static func runPDFToText(_ executable: String, _ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-enc", "UTF-8", path, "-"]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw DataError("pdftotext failed (exit \(process.terminationStatus)): \(message)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The path of `name` on `PATH`, or nil.
    public static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
