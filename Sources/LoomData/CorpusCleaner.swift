import Foundation
import LoomJinja

/// `loom data clean`: normalises every document, removes boilerplate lines repeated across
/// the pages of a site, and drops documents that fail the length and Gopher quality rules,
/// with a counter per rule.
///
/// Two streaming passes over the input. The first counts, per site (the record's `site`
/// field, which ingest sets to the folder given on its command line, else the source's
/// folder), in how many documents each distinct line appears. The second removes lines
/// that appear in at least `boilerplateMinDocuments` documents and in at least
/// `boilerplateFraction` of the site's documents (menus, "Previous topic", copyright
/// footers), then filters. Memory: one batch of records plus the line table, which holds
/// at most `boilerplateTableCapacity` entries (about 40 bytes each): when it fills up,
/// lines seen in only one document so far are evicted.
public struct CorpusCleaner {
    /// The normaliser.
    public var normalizer = TextNormalizer()
    /// The quality filter.
    public var filter = QualityFilter()
    /// Remove lines repeated across a site.
    public var removeBoilerplate = true
    /// A boilerplate line appears in at least this many documents of its site…
    public var boilerplateMinDocuments = 3
    /// …and in at least this fraction of them.
    public var boilerplateFraction = 0.5
    /// The line table's entry limit (bounds memory).
    public var boilerplateTableCapacity = 2_000_000
    /// Records per batch.
    public var batchSize = RecordStream.defaultBatchSize
    /// Keep only documents identified as one of these languages (`LanguageIdentifier`); nil keeps all.
    /// Kept documents get `lang` and `lang_score` fields.
    public var languages: Set<String>?
    /// …with at least this score.
    public var minLanguageScore = 0.0
    /// The language identifier.
    public var identifier = LanguageIdentifier.shared
    /// A document's perplexity under a language model (nil for a text too short to score),
    /// called on one thread, in input order; documents above `maxPerplexity` are removed and
    /// kept ones get a `ppl` field. The CLI passes a model (`--ppl-model`).
    public var perplexity: ((String) throws -> Double?)?
    /// The highest perplexity kept.
    public var maxPerplexity = Double.infinity
    /// Continue from the checkpoint of an interrupted run (see `ResumableOutput`).
    public var resume = false

    /// A cleaner with the default rules.
    public init() {}

    /// The site a record belongs to, for boilerplate detection.
    static func site(of record: DataRecord) -> String {
        if case .string(let s)? = record.extra["site"] { return s }
        return URL(fileURLWithPath: record.source).deletingLastPathComponent().path
    }

    /// Normalised, non-empty lines, each hashed with its site.
    static func lineKeys(_ text: String, site: UInt64) -> Set<UInt64> {
        var keys = Set<UInt64>()
        for line in text.split(separator: "\n") {
            guard let hash = trimmedLineHash(line) else { continue }
            keys.insert(StableHash.combine(site, hash))
        }
        return keys
    }

    /// The hash of a line of normalised text without its leading and trailing spaces, or nil
    /// for a blank line. The normaliser has already turned tabs and every Unicode space
    /// (what `CharacterSet.whitespaces` holds) into plain spaces, so trimming spaces is
    /// trimming whitespace; Foundation's trimming cost a fifth of `clean`.
    static func trimmedLineHash(_ line: Substring) -> UInt64? {
        var line = line
        return line.withUTF8 { bytes -> UInt64? in
            var lo = 0
            var hi = bytes.count
            while lo < hi && (bytes[lo] == 0x20 || bytes[lo] == 0x09) { lo += 1 }
            while hi > lo && (bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09) { hi -= 1 }
            if lo == hi { return nil }
            return StableHash.hash64(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[lo ..< hi]))
        }
    }

    /// Cleans `input` into `output` (written atomically, with its statistics sidecar).
    public func run(input: String, output: String) throws -> StageStats {
        let started = Date()
        var stats = StageStats(stage: "clean", inputs: [input], output: output)
        var lineDocuments: [UInt64: Int32] = [:]
        var siteDocuments: [UInt64: Int] = [:]
        if removeBoilerplate {
            var scan = StageStats(stage: "clean-scan", inputs: [input], output: output)
            try RecordStream.forEachBatch(path: input, batchSize: batchSize, stats: &scan) { batch, _ in
                let keys = RecordStream.parallelMap(batch) { record -> (UInt64, Set<UInt64>) in
                    let site = StableHash.hash64(Self.site(of: record))
                    return (site, Self.lineKeys(normalizer.normalize(record.text), site: site))
                }
                for (site, lines) in keys {
                    siteDocuments[site, default: 0] += 1
                    for key in lines { lineDocuments[key, default: 0] += 1 }
                }
                if lineDocuments.count > boilerplateTableCapacity {
                    lineDocuments = lineDocuments.filter { $0.value > 1 }
                    stats.count("boilerplate_table_evictions")
                }
            }
        }
        // The line table is rebuilt by the first pass; only the second pass resumes.
        let writer = try ResumableOutput(path: output, input: input, resume: resume, stats: &stats)
        try RecordStream.forEachBatch(path: input, batchSize: batchSize, startLine: writer.resumeLine, stats: &stats,
                                      afterBatch: writer.checkpoint) { batch, stats in
            let results = RecordStream.parallelMap(batch) { record -> (DataRecord, removedLines: Int, rejection: String?) in
                var record = record
                var text = normalizer.normalize(record.text)
                var removed = 0
                if removeBoilerplate {
                    let site = StableHash.hash64(Self.site(of: record))
                    let documents = siteDocuments[site, default: 0]
                    let needed = max(boilerplateMinDocuments, Int((boilerplateFraction * Double(documents)).rounded(.up)))
                    var kept: [Substring] = []
                    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                        if let hash = Self.trimmedLineHash(line), let n = lineDocuments[StableHash.combine(site, hash)], Int(n) >= needed {
                            removed += 1
                            continue
                        }
                        kept.append(line)
                    }
                    if removed > 0 { text = normalizer.normalize(kept.joined(separator: "\n")) }
                }
                record.text = text
                if text.isEmpty { return (record, removed, "empty_after_cleaning") }
                if let languages {
                    let (language, score) = identifier.identify(text)
                    if !languages.contains(language) { return (record, removed, "language_not_wanted") }
                    if score < minLanguageScore { return (record, removed, "language_score_too_low") }
                    record.extra["lang"] = .string(language)
                    record.extra["lang_score"] = .number((score * 1000).rounded() / 1000)
                }
                return (record, removed, filter.rejection(text))
            }
            var buffer: [UInt8] = []
            var kept: [DataRecord] = []
            for (record, removedLines, rejection) in results {
                var record = record
                var rejection = rejection
                if removedLines > 0 {
                    stats.count("boilerplate_lines_removed", removedLines)
                    stats.count("documents_with_boilerplate")
                }
                // The model runs last, on what every cheaper rule kept.
                if rejection == nil, let perplexity, let ppl = try perplexity(record.text) {
                    if ppl > maxPerplexity { rejection = "perplexity_too_high" }
                    record.extra["ppl"] = .number((ppl * 100).rounded() / 100)
                }
                if let rejection {
                    stats.count(rejection)
                    stats.count("removed_total")
                    continue
                }
                kept.append(record)
            }
            RecordStream.encode(kept, into: &buffer, stats: &stats)
            try writer.write(buffer)
        }
        try writer.commit()
        stats.seconds = Date().timeIntervalSince(started)
        try stats.writeSidecar()
        return stats
    }
}
