import Foundation
import LoomJinja

/// `loom data format`: writes the corpus as a training set that `loom finetune` and
/// LLaMA-Factory read: `train.jsonl` (and `validation.jsonl`) plus a `dataset_info.json`
/// describing them (LLaMA-Factory's `data/README.md` format).
///
/// - `text`: `{"text": …}` lines for continued pre-training, described as LLaMA-Factory's
///   pre-training entries are (`"columns": {"prompt": "text"}`, as its `c4_demo`).
/// - `alpaca`: `{"instruction", "input", "output"}` lines; the output is the record's text and
///   the instruction comes from the record's `instructionField` (records without it are
///   counted and skipped).
///
/// The split is by document: a chunk goes where its `parent_id` goes, and with a clusters file
/// from `dedup` a near-duplicate goes where its cluster's representative goes, so no copy of a
/// validation document is trained on. The side is a hash of that key, stable across runs.
public struct CorpusFormatter {
    /// Output layouts.
    public enum Format: String, CaseIterable, Sendable { case text, alpaca }

    /// The layout.
    public var format: Format = .text
    /// The fraction of documents (by split key) held out for validation.
    public var validationFraction = 0.0
    /// The dataset's name in `dataset_info.json` (`NAME` and `NAME_validation`).
    public var name = "loom_data"
    /// Where alpaca instructions come from.
    public var instructionField = "instruction"
    /// Member id → representative id, from `OUT.clusters.jsonl` of `dedup`.
    public var clusterOf: [String: String] = [:]

    /// A formatter for `text` with no validation split.
    public init() {}

    /// Reads a clusters file written by `dedup`.
    public mutating func loadClusters(_ path: String) throws {
        let reader = try LineReader(path: path)
        while let line = try reader.next() {
            guard case .line(let bytes) = line, !bytes.isEmpty else { continue }
            guard case .object(let c)? = try? JSONParser.parse(bytes), case .string(let rep)? = c["representative"],
                  case .array(let members)? = c["members"] else {
                throw DataError("\(path):\(reader.lineNumber) is not a cluster line of loom data dedup")
            }
            for case .string(let m) in members { clusterOf[m] = rep }
        }
    }

    /// The split key of a record: its cluster's representative, else its parent document, else itself.
    func splitKey(_ record: DataRecord) -> String {
        var id = record.id
        if case .string(let parent)? = record.extra["parent_id"] { id = parent }
        return clusterOf[id] ?? id
    }

    /// True if a key goes to validation.
    func isValidation(_ key: String) -> Bool {
        guard validationFraction > 0 else { return false }
        let unit = Double(StableHash.hash64(key, seed: 0x7370_6C69) >> 11) / Double(1 << 53)
        return unit < validationFraction
    }

    /// Formats `input` into the folder `output` (created if needed).
    public func run(input: String, output: String) throws -> StageStats {
        guard validationFraction >= 0 && validationFraction < 1 else { throw DataError("--val-fraction must be in [0, 1) (got \(validationFraction))") }
        let started = Date()
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw DataError("cannot create the folder \(output): \(error.localizedDescription)")
        }
        var stats = StageStats(stage: "format", inputs: [input], output: output + "/train.jsonl")
        let train = try AtomicFileWriter(path: output + "/train.jsonl")
        let validation = validationFraction > 0 ? try AtomicFileWriter(path: output + "/validation.jsonl") : nil
        try RecordStream.forEachBatch(path: input, stats: &stats) { batch, stats in
            var trainBytes: [UInt8] = []
            var validationBytes: [UInt8] = []
            for record in batch {
                let line: JSONObject
                switch format {
                case .text:
                    line = ["text": .string(record.text)]
                case .alpaca:
                    guard case .string(let instruction)? = record.extra[instructionField] else {
                        stats.count("missing_instruction")
                        continue
                    }
                    var input = ""
                    if case .string(let s)? = record.extra["input"] { input = s }
                    line = ["instruction": .string(instruction), "input": .string(input), "output": .string(record.text)]
                }
                let toValidation = validation != nil && isValidation(splitKey(record))
                stats.count(toValidation ? "validation_documents" : "train_documents")
                if !toValidation { stats.wrote(record) }
                var bytes: [UInt8] = []
                JSONWriter.write(.object(line), into: &bytes)
                bytes.append(0x0A)
                if toValidation { validationBytes += bytes } else { trainBytes += bytes }
            }
            try train.write(trainBytes)
            try validation?.write(validationBytes)
        }
        try train.commit()
        try validation?.commit()
        func entry(_ file: String) -> JSONValue {
            switch format {
            case .text:
                return .object(["file_name": .string(file), "columns": .object(["prompt": .string("text")])])
            case .alpaca:
                return .object(["file_name": .string(file), "formatting": .string("alpaca"),
                                "columns": .object(["prompt": .string("instruction"), "query": .string("input"), "response": .string("output")])])
            }
        }
        var info: JSONObject = [name: entry("train.jsonl")]
        if validation != nil { info[name + "_validation"] = entry("validation.jsonl") }
        try AtomicFileWriter.write(JSONWriter.string(.object(info)) + "\n", to: output + "/dataset_info.json")
        stats.details["dataset_info"] = .string(output + "/dataset_info.json")
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }
}
