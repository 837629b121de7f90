import Foundation
import LoomJinja

/// `loom data report`: gathers the statistics sidecars of the stages that wrote the given
/// JSONL files into one JSON and one Markdown report, with a document-length histogram (SVG)
/// of the last file.
public struct CorpusReport {
    /// Sidecars, in pipeline order.
    public var stages: [StageStats]
    /// Lengths of the documents of the last file.
    public var histogram: LengthHistogram

    /// Reads the sidecars of `files` (`FILE.stats.json`) and the lengths of the last file.
    public init(files: [String]) throws {
        guard let last = files.last else { throw DataError("give at least one stage output (a .jsonl file written by loom data)") }
        stages = try files.map { file in
            let sidecar = StageStats.sidecarPath(for: file)
            guard FileManager.default.fileExists(atPath: sidecar) else {
                throw DataError("\(file) has no statistics sidecar \(sidecar); was it written by a loom data stage?")
            }
            return try StageStats.read(sidecar: sidecar)
        }
        var histogram = LengthHistogram()
        var scan = StageStats(stage: "report", inputs: [last], output: "")
        try RecordStream.forEachBatch(path: last, stats: &scan) { batch, _ in
            for record in batch { histogram.add(words: StageStats.wordCount(record.text)) }
        }
        self.histogram = histogram
    }

    /// The report as JSON.
    public var json: JSONValue {
        var bins: [JSONValue] = []
        for (k, count) in histogram.counts.enumerated() {
            bins.append(.object(["words": .string(LengthHistogram.label(k)), "documents": .integer(count)]))
        }
        return .object(["stages": .array(stages.map { $0.json }), "length_histogram": .array(bins)])
    }

    /// The report as Markdown; `histogramFile` is linked as an image.
    public func markdown(histogramFile: String) -> String {
        var s = "# Corpus report\n\n"
        s += "| stage | output | documents in | documents out | text bytes in | text bytes out | words out | errors | seconds |\n"
        s += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for st in stages {
            s += "| \(st.stage) | `\(URL(fileURLWithPath: st.output).lastPathComponent)` | \(st.documentsIn) | \(st.documentsOut) | \(st.bytesIn) | \(st.bytesOut) | \(st.wordsOut) | \(st.errorCount) | \(String(format: "%.2f", st.seconds)) |\n"
        }
        for st in stages where !st.counters.isEmpty {
            s += "\n## \(st.stage)\n\n| counter | count |\n|---|---:|\n"
            for key in st.counters.keys.sorted() { s += "| \(key) | \(st.counters[key]!) |\n" }
            if case .array(let clusters)? = st.details["largest_clusters"], !clusters.isEmpty {
                s += "\nLargest duplicate clusters:\n\n| size | kind | representative | source |\n|---:|---|---|---|\n"
                for cluster in clusters {
                    guard case .object(let c) = cluster else { continue }
                    func str(_ k: String) -> String { if case .string(let v)? = c[k] { return v }; if case .integer(let i)? = c[k] { return String(i) }; return "" }
                    s += "| \(str("size")) | \(str("kind")) | `\(str("representative"))` | `\(str("source"))` |\n"
                }
            }
            if !st.errors.isEmpty {
                s += "\nFirst problems (\(st.errorCount) in all):\n\n"
                for e in st.errors.prefix(10) { s += "- `\(e.source)`: \(e.message)\n" }
            }
        }
        s += "\n## Document lengths\n\n![document lengths](\(histogramFile))\n\n| words | documents |\n|---|---:|\n"
        for (k, count) in histogram.counts.enumerated() { s += "| \(LengthHistogram.label(k)) | \(count) |\n" }
        return s
    }

    /// Writes `report.json`, `report.md` and `length_histogram.svg` into `folder` (created if needed).
    public func write(to folder: String) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw DataError("cannot create the report folder \(folder): \(error.localizedDescription)")
        }
        try AtomicFileWriter.write(JSONWriter.string(json) + "\n", to: folder + "/report.json")
        try AtomicFileWriter.write(markdown(histogramFile: "length_histogram.svg"), to: folder + "/report.md")
        try AtomicFileWriter.write(histogram.svg(title: "Document length"), to: folder + "/length_histogram.svg")
    }
}
