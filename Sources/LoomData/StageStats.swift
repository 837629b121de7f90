import Foundation
import LoomJinja

/// What one `loom data` stage did: documents and bytes in and out, a counter per rule or
/// problem, and the first per-file errors. Each stage writes it next to its output as
/// `OUT.stats.json`; `loom data report` gathers these sidecars.
public struct StageStats: Sendable {
    /// The stage name (`ingest`, `clean`, `dedup`, `scrub`).
    public var stage: String
    /// Input paths.
    public var inputs: [String]
    /// The output path.
    public var output: String
    /// Documents read (for ingest: documents produced from files, before nothing is removed).
    public var documentsIn = 0
    /// Documents written.
    public var documentsOut = 0
    /// UTF-8 bytes of text read.
    public var bytesIn = 0
    /// UTF-8 bytes of text written.
    public var bytesOut = 0
    /// Whitespace-separated words written (a tokenizer-free size measure).
    public var wordsOut = 0
    /// Named counts: documents removed by each rule, files skipped for each reason, items replaced.
    public var counters: [String: Int] = [:]
    /// Per-file or per-line problems, the first `maximumErrors` kept.
    public var errors: [(source: String, message: String)] = []
    /// All problems, including those not kept in `errors`.
    public var errorCount = 0
    /// Stage-specific results (e.g. the largest duplicate clusters).
    public var details: JSONObject = [:]
    /// Wall-clock seconds.
    public var seconds = 0.0

    /// Errors kept in the sidecar; the rest are only counted.
    public static let maximumErrors = 1000

    /// Empty statistics for a stage.
    public init(stage: String, inputs: [String], output: String) {
        self.stage = stage
        self.inputs = inputs
        self.output = output
    }

    /// Adds `amount` to a counter.
    public mutating func count(_ name: String, _ amount: Int = 1) {
        counters[name, default: 0] += amount
    }

    /// Records a problem with one file or line (and counts it under `counter`).
    public mutating func error(_ source: String, _ message: String, counter: String) {
        count(counter)
        errorCount += 1
        if errors.count < Self.maximumErrors { errors.append((source, message)) }
    }

    /// Counts a written document.
    public mutating func wrote(_ record: DataRecord) {
        documentsOut += 1
        bytesOut += record.text.utf8.count
        wordsOut += Self.wordCount(record.text)
    }

    /// Whitespace-separated words in `text`.
    public static func wordCount(_ text: String) -> Int {
        var copy = text
        // Over the contiguous bytes: iterating `String.UTF8View` cost a tenth of `clean`.
        return copy.withUTF8 { bytes in
            var words = 0
            var inWord = false
            for byte in bytes {
                let space = byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
                if !space && !inWord { words += 1 }
                inWord = !space
            }
            return words
        }
    }

    /// The sidecar path for an output.
    public static func sidecarPath(for output: String) -> String { output + ".stats.json" }

    /// The statistics as JSON.
    public var json: JSONValue {
        var o: JSONObject = [:]
        o["stage"] = .string(stage)
        o["inputs"] = .array(inputs.map { .string($0) })
        o["output"] = .string(output)
        o["documents_in"] = .integer(documentsIn)
        o["documents_out"] = .integer(documentsOut)
        o["bytes_in"] = .integer(bytesIn)
        o["bytes_out"] = .integer(bytesOut)
        o["words_out"] = .integer(wordsOut)
        var c: JSONObject = [:]
        for key in counters.keys.sorted() { c[key] = .integer(counters[key]!) }
        o["counters"] = .object(c)
        o["error_count"] = .integer(errorCount)
        o["errors"] = .array(errors.map { .object(["source": .string($0.source), "message": .string($0.message)]) })
        o["details"] = .object(details)
        o["seconds"] = .number((seconds * 1000).rounded() / 1000)
        return .object(o)
    }

    /// Writes the sidecar next to `output` (atomically).
    public func writeSidecar() throws {
        try AtomicFileWriter.write(JSONWriter.string(json) + "\n", to: Self.sidecarPath(for: output))
    }

    /// Reads a sidecar written by `writeSidecar`.
    public static func read(sidecar path: String) throws -> StageStats {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("cannot read \(path)") }
        let value: JSONValue
        do { value = try JSONParser.parse(Array(data)) } catch { throw DataError("\(path): \(error)") }
        return try StageStats(json: value, source: path)
    }

    /// Statistics from their JSON (`json`); `source` names the file in errors.
    public init(json value: JSONValue, source path: String) throws {
        guard case .object(let o) = value, case .string(let stage)? = o["stage"] else {
            throw DataError("\(path) is not a loom data statistics file (no \"stage\")")
        }
        func int(_ key: String) -> Int { if case .integer(let i)? = o[key] { return i }; return 0 }
        var inputs: [String] = []
        if case .array(let items)? = o["inputs"] { inputs = items.compactMap { if case .string(let s) = $0 { return s }; return nil } }
        var output = ""
        if case .string(let s)? = o["output"] { output = s }
        var stats = StageStats(stage: stage, inputs: inputs, output: output)
        stats.documentsIn = int("documents_in")
        stats.documentsOut = int("documents_out")
        stats.bytesIn = int("bytes_in")
        stats.bytesOut = int("bytes_out")
        stats.wordsOut = int("words_out")
        stats.errorCount = int("error_count")
        if case .object(let c)? = o["counters"] {
            for (k, v) in c { if case .integer(let i) = v { stats.counters[k] = i } }
        }
        if case .array(let items)? = o["errors"] {
            for item in items {
                if case .object(let e) = item, case .string(let s)? = e["source"], case .string(let m)? = e["message"] {
                    stats.errors.append((s, m))
                }
            }
        }
        if case .object(let d)? = o["details"] { stats.details = d }
        if case .number(let s)? = o["seconds"] { stats.seconds = s } else if case .integer(let s)? = o["seconds"] { stats.seconds = Double(s) }
        self = stats
    }
}
