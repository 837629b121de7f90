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
/// from `dedup` a near-duplicate goes where its cluster's representative goes. Dedup keeps
/// one document per cluster, so near-copies below its threshold survive it; a first pass
/// therefore groups the records themselves with MinHash + LSH at `splitThreshold` (lower
/// than dedup's) and keeps each group on one side, so no near-copy of a validation record is
/// trained on. A group's side is a hash of its first record's key, stable across runs.
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
    /// Records whose estimated Jaccard similarity (word 5-shingles) reaches this go to the
    /// same side of the split; nil splits by document and clusters file only.
    public var splitThreshold: Double? = 0.5
    /// With a synthesizer, each record becomes alpaca question/answer lines written by a
    /// model from its text (`--synthesize qa`), on the record's side of the split.
    public var synthesizer: QASynthesizer?
    /// Continue from the checkpoint of an interrupted run (see `ResumableOutput`): with a
    /// synthesizer, the model is not asked again for records already written.
    public var resume = false

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

    /// The hash of a split key that decides its side.
    static func sideHash(_ key: String) -> UInt64 { StableHash.hash64(key, seed: 0x7370_6C69) }

    /// True if a key with this side hash goes to validation.
    func isValidation(hash: UInt64) -> Bool {
        guard validationFraction > 0 else { return false }
        return Double(hash >> 11) / Double(1 << 53) < validationFraction
    }

    /// True if a key goes to validation.
    func isValidation(_ key: String) -> Bool { isValidation(hash: Self.sideHash(key)) }

    /// Per record of `input`, true if it goes to validation: records sharing a split key, or
    /// near-duplicates at `threshold`, form one group (union-find), on the side of its first key.
    func groupSides(input: String, threshold: Double, stats: inout StageStats) throws -> [Bool] {
        let hasher = try MinHasher(shingleSize: 5, permutations: 128)
        let lsh = try LSHParameters(threshold: threshold, permutations: hasher.permutations)
        var keys: [Deduplicator.ExactKey] = []
        let signatures = SignatureStore(width: hasher.permutations)
        var empty: [Bool] = []
        var scan = StageStats(stage: "format-scan", inputs: [input], output: "")
        try RecordStream.forEachBatch(path: input, stats: &scan) { batch, _ in
            let computed = RecordStream.parallelMap(batch) { record -> (UInt64, [UInt32], Bool) in
                let words = MinHasher.wordHashes(record.text)
                return (Self.sideHash(splitKey(record)), hasher.signature(shingles: hasher.shingles(words)), words.isEmpty)
            }
            for (hash, signature, isEmpty) in computed {
                keys.append(.init(a: hash, b: 0))
                signatures.append(contentsOf: signature)
                empty.append(isEmpty)
            }
        }
        let clusters = Deduplicator(hasher: hasher, lsh: lsh, threshold: threshold)
            .findClusters(keys: keys, signatures: signatures, empty: empty, searchExactCopies: true)
        // Union-find keeps the smallest index as the root: the group's first record.
        var moved = 0
        let sides = (0 ..< keys.count).map { i -> Bool in
            let side = isValidation(hash: keys[clusters.representative[i]].a)
            if side != isValidation(hash: keys[i].a) { moved += 1 }
            return side
        }
        stats.count("split_near_duplicate_pairs", clusters.verifiedPairs)
        stats.count("split_records_moved_with_their_group", moved)
        return sides
    }

    /// Formats `input` into the folder `output` (created if needed).
    public func run(input: String, output: String) throws -> StageStats {
        guard validationFraction >= 0 && validationFraction < 1 else { throw DataError("--val-split must be in [0, 1) (got \(validationFraction))") }
        let started = Date()
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw DataError("cannot create the folder \(output): \(error.localizedDescription)")
        }
        var stats = StageStats(stage: "format", inputs: [input], output: output + "/train.jsonl")
        let splits = validationFraction > 0
        var sides: [Bool]?
        if splits, let splitThreshold {
            guard splitThreshold > 0 && splitThreshold < 1 else { throw DataError("--split-threshold must be between 0 and 1 (got \(splitThreshold))") }
            sides = try groupSides(input: input, threshold: splitThreshold, stats: &stats)
        }
        // Train and validation resume together: one checkpoint counts both.
        let writer = try ResumableOutput(path: output + "/train.jsonl", companions: splits ? [output + "/validation.jsonl"] : [],
                                         input: input, resume: resume, stats: &stats)
        // Records before the resumed line (the split sides are indexed by record).
        var index = writer.resumeLine > 0 ? stats.documentsIn : 0
        try RecordStream.forEachBatch(path: input, startLine: writer.resumeLine, stats: &stats,
                                      afterBatch: writer.checkpoint) { batch, stats in
            var trainBytes: [UInt8] = []
            var validationBytes: [UInt8] = []
            for record in batch {
                defer { index += 1 }
                if let sides, index >= sides.count { throw DataError("\(input) changed while it was being formatted") }
                var lines: [JSONObject]
                if let synthesizer {
                    lines = try synthesizer.pairs(for: record.text, stats: &stats).map {
                        ["instruction": .string($0.question), "input": .string(""), "output": .string($0.answer)]
                    }
                    if lines.isEmpty { continue }
                } else {
                    switch format {
                    case .text:
                        lines = [["text": .string(record.text)]]
                    case .alpaca:
                        guard case .string(let instruction)? = record.extra[instructionField] else {
                            stats.count("missing_instruction")
                            continue
                        }
                        var input = ""
                        if case .string(let s)? = record.extra["input"] { input = s }
                        lines = [["instruction": .string(instruction), "input": .string(input), "output": .string(record.text)]]
                    }
                }
                let toValidation = splits && (sides?[index] ?? isValidation(splitKey(record)))
                stats.count(toValidation ? "validation_documents" : "train_documents")
                if !toValidation { stats.wrote(record) }
                var bytes: [UInt8] = []
                for line in lines {
                    JSONWriter.write(.object(line), into: &bytes)
                    bytes.append(0x0A)
                }
                if toValidation { validationBytes += bytes } else { trainBytes += bytes }
            }
            try writer.write(trainBytes)
            if splits { try writer.write(validationBytes, to: 1) }
        }
        try writer.commit()
        func entry(_ file: String) -> JSONValue {
            switch synthesizer == nil ? format : .alpaca {
            case .text:
                return .object(["file_name": .string(file), "columns": .object(["prompt": .string("text")])])
            case .alpaca:
                return .object(["file_name": .string(file), "formatting": .string("alpaca"),
                                "columns": .object(["prompt": .string("instruction"), "query": .string("input"), "response": .string("output")])])
            }
        }
        var info: JSONObject = [name: entry("train.jsonl")]
        if splits { info[name + "_validation"] = entry("validation.jsonl") }
        try AtomicFileWriter.write(JSONWriter.string(.object(info)) + "\n", to: output + "/dataset_info.json")
        stats.details["dataset_info"] = .string(output + "/dataset_info.json")
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }
}
