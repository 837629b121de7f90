import ArgumentParser
import LoomData

/// `loom data dedup`: exact and MinHash/LSH near-duplicate removal.
struct DataDedupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Remove exact and near duplicates (MinHash + LSH), keeping the first document of each cluster.",
        discussion: """
        Clusters are written to OUT.clusters.jsonl; the largest are in OUT.stats.json. Without --bands/--rows \
        the banding is chosen from --threshold so that pairs at the threshold are candidates with ≥ 99 % \
        probability; candidates are then kept only if their signatures agree on ≥ threshold of the entries.
        """)

    @Argument(help: "The JSONL file to read.") var input: String
    @Option(name: .shortAndLong, help: "The JSONL file to write.") var output: String
    @Option(help: "Words per shingle.") var shingle = 5
    @Option(help: "MinHash permutations (signature length).") var numPerm = 128
    @Option(help: "Jaccard similarity at or above which documents are near duplicates.") var threshold = 0.7
    @Option(help: "LSH bands (with --rows).") var bands: Int?
    @Option(help: "LSH rows per band (with --bands).") var rows: Int?
    @Flag(help: "Only remove exact duplicates.") var exactOnly = false
    @Flag(help: "Also remove paragraphs (blocks between blank lines) that repeat an earlier paragraph of the documents kept.") var paragraphs = false
    @Option(help: "With --paragraphs: shorter paragraphs (headings, captions) are never removed.") var minParagraphWords = 20
    @Flag(help: "Continue an interrupted run from OUT.checkpoint.json: no output line lost or repeated.") var resume = false

    func run() throws {
        enableDataProgress()
        try checkDistinct(input: input, output: output)
        guard threshold > 0 && threshold < 1 else { throw ValidationError("--threshold must be between 0 and 1") }
        let hasher = try MinHasher(shingleSize: shingle, permutations: numPerm)
        let lsh: LSHParameters
        switch (bands, rows) {
        case let (b?, r?): lsh = try LSHParameters(bands: b, rows: r, permutations: numPerm)
        case (nil, nil): lsh = try LSHParameters(threshold: threshold, permutations: numPerm)
        default: throw ValidationError("give both --bands and --rows, or neither")
        }
        var dedup = Deduplicator(hasher: hasher, lsh: lsh, threshold: threshold)
        dedup.nearDuplicates = !exactOnly
        guard minParagraphWords >= 1 else { throw ValidationError("--min-paragraph-words must be at least 1") }
        dedup.paragraphs = paragraphs
        dedup.minParagraphWords = minParagraphWords
        dedup.resume = resume
        let stats = try dedup.run(input: input, output: output)
        printStageSummary(stats, detail: "exact \(stats.counters["exact_duplicates_removed"] ?? 0), near \(stats.counters["near_duplicates_removed"] ?? 0) removed in \(stats.counters["clusters"] ?? 0) clusters (bands \(lsh.bands) × rows \(lsh.rows))"
            + (paragraphs ? "; paragraphs: exact \(stats.counters["exact_duplicate_paragraphs_removed"] ?? 0), near \(stats.counters["near_duplicate_paragraphs_removed"] ?? 0) removed" : ""))
    }
}
