import Foundation
import ArgumentParser
import LoomData

/// `loom data clean`: normalise, remove site boilerplate, filter by length and quality.
struct DataCleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Normalise text (NFC, whitespace, hyphenation), drop repeated site boilerplate and low-quality documents.",
        discussion: """
        Filters are Gopher's quality and repetition rules (Rae et al. 2021, appendix A) and a word-count \
        range, with --ppl-model a perplexity filter (CCNet), and with --lang a language identifier (character n-gram naive Bayes trained on the \
        Debian Reference sentences Loom ships); each removal is counted in OUT.stats.json under the rule's name.
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
    @Option(help: "Keep only documents in these languages (comma-separated ISO 639-1 codes of en, de, fr, es, it, pt, id, ja, zh).")
    var lang: String?
    @Option(help: "With --lang: the least language score (0–1) a document needs.") var minLangScore = 0.5
    @Option(help: "Score documents with this model (GGUF file or name, e.g. smollm2) and drop those above --max-ppl (CCNet).")
    var pplModel: String?
    @Option(help: "With --ppl-model: the highest perplexity kept.") var maxPpl: Double?
    @Option(help: "With --ppl-model: tokens of each document scored (from its start).") var pplMaxTokens = 512
    @Option(name: .shortAndLong, help: "Threads for the perplexity model.") var threads: Int?
    @Flag(help: "Continue an interrupted run from OUT.checkpoint.json: no output line lost or repeated.") var resume = false

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
        cleaner.resume = resume
        if let pplModel {
            guard let maxPpl, maxPpl > 1 else { throw ValidationError("--ppl-model needs --max-ppl, a perplexity above 1") }
            let scorer = try DocumentPerplexity(model: pplModel, maxTokens: pplMaxTokens, threads: threads)
            cleaner.perplexity = scorer.perplexity
            cleaner.maxPerplexity = maxPpl
        } else if maxPpl != nil {
            throw ValidationError("--max-ppl needs --ppl-model")
        }
        if let lang {
            let wanted = Set(lang.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            let known = Set(cleaner.identifier.languages)
            guard !wanted.isEmpty, wanted.isSubset(of: known) else {
                throw ValidationError("--lang \(lang): known languages are \(cleaner.identifier.languages.joined(separator: ", "))")
            }
            guard minLangScore >= 0 && minLangScore <= 1 else { throw ValidationError("--min-lang-score must be in [0, 1]") }
            cleaner.languages = wanted
            cleaner.minLanguageScore = minLangScore
        }
        let stats = try cleaner.run(input: input, output: output)
        printStageSummary(stats, detail: describeCounters(stats, excluding: ["malformed_lines", "lines_too_long"]))
    }
}
