import ArgumentParser
import LoomData

/// `loom data clean`: normalise, remove site boilerplate, filter by length and quality.
struct DataCleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Normalise text (NFC, whitespace, hyphenation), drop repeated site boilerplate and low-quality documents.",
        discussion: """
        Filters are Gopher's quality and repetition rules (Rae et al. 2021, appendix A) and a word-count \
        range; each removal is counted in OUT.stats.json under the rule's name.
        """)

    @Argument(help: "The JSONL file to read.") var input: String
    @Option(name: .shortAndLong, help: "The JSONL file to write.") var output: String
    @Option(help: "Fewest words a document may have.") var minWords = 50
    @Option(help: "Most words a document may have.") var maxWords = 100_000
    @Flag(help: "Skip the Gopher quality rules (symbols, bullets, ellipses, alphabetic words, stop words).") var noQuality = false
    @Flag(help: "Skip the Gopher repetition rules (duplicate lines, paragraphs and n-grams).") var noRepetition = false
    @Flag(help: "Keep lines repeated across a site.") var keepBoilerplate = false
    @Option(help: "A boilerplate line appears in at least this many documents of its site…") var boilerplateMinDocs = 3
    @Option(help: "…and in at least this fraction of them.") var boilerplateFraction = 0.5
    @Flag(help: "Do not join words hyphenated across line breaks.") var noDehyphenate = false

    func run() throws {
        enableDataProgress()
        try checkDistinct(input: input, output: output)
        guard minWords >= 0, maxWords >= minWords else { throw ValidationError("need 0 ≤ --min-words ≤ --max-words") }
        guard boilerplateMinDocs >= 2 else { throw ValidationError("--boilerplate-min-docs must be at least 2") }
        guard boilerplateFraction > 0 && boilerplateFraction <= 1 else { throw ValidationError("--boilerplate-fraction must be in (0, 1]") }
        var cleaner = CorpusCleaner()
        cleaner.filter.thresholds.minWords = minWords
        cleaner.filter.thresholds.maxWords = maxWords
        cleaner.filter.quality = !noQuality
        cleaner.filter.repetition = !noRepetition
        cleaner.removeBoilerplate = !keepBoilerplate
        cleaner.boilerplateMinDocuments = boilerplateMinDocs
        cleaner.boilerplateFraction = boilerplateFraction
        cleaner.normalizer.dehyphenate = !noDehyphenate
        let stats = try cleaner.run(input: input, output: output)
        printStageSummary(stats, detail: describeCounters(stats, excluding: ["malformed_lines", "lines_too_long"]))
    }
}
