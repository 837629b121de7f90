import ArgumentParser
import Foundation
import LoomEval
import LoomModels

/// `loom perplexity`: llama-perplexity's method, several models, optional KL-divergence.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text with llama-perplexity's method (and KL-divergence against a base model).",
        discussion: """
        The text is tokenised whole, cut into chunks of --ctx tokens; each chunk is evaluated from \
        an empty cache (first token replaced by BOS when the model adds BOS) and its second half is \
        scored. --kl-divergence-base FILE saves the (first) model's distributions in llama.cpp's \
        format; --kl-divergence FILE compares every model with them.
        """)

    @OptionGroup var common: EvalModelOptions
    @Option(name: [.short, .customLong("file")], help: "The text file to score.") var file: String?
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Tokens per chunk.") var contextLength = 512
    @Option(parsing: .unconditional, help: "Score at most this many chunks.") var chunks: Int?
    @Option(name: .customLong("bos"), help: "Replace each chunk's first token by BOS: auto (as the model adds BOS), yes, no.")
    var bos = "auto"
    @Option(name: .customLong("kl-divergence-base"), help: "Save the model's log-probs to this file (one model only).")
    var klBase: String?
    @Option(name: .customLong("kl-divergence"), help: "Compare each model with the log-probs in this file.")
    var klCompare: String?

    func validate() throws {
        if contextLength < 4 || contextLength % 2 != 0 { throw ValidationError("--ctx must be an even number ≥ 4, got \(contextLength)") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be positive, got \(chunks)") }
        if !["auto", "yes", "no"].contains(bos) { throw ValidationError("--bos must be auto, yes or no, got \(bos)") }
        if klBase != nil && common.models.count > 1 { throw ValidationError("--kl-divergence-base takes exactly one model") }
        if klBase != nil && klCompare != nil { throw ValidationError("use either --kl-divergence-base or --kl-divergence") }
        if file == nil && klCompare == nil { throw ValidationError("give the text with -f FILE (or a --kl-divergence file)") }
    }

    func run() throws {
        let text = try file.map(readText)
        let options = PerplexityOptions(contextLength: contextLength, chunkLimit: chunks,
                                        replaceFirstWithBOS: bos == "auto" ? nil : bos == "yes")
        let pool = common.makePool()
        var reports: [PerplexityReport] = []
        for name in common.modelNames {
            let (model, label) = try common.load(name)
            let evaluator = try PerplexityEvaluator(model: model, options: options, pool: pool)
            let reader = try klCompare.map { try LogProbFileReader(path: $0) }
            let tokens = text.map(evaluator.tokenize) ?? []
            if reader == nil {
                let n = try evaluator.chunkCount(tokenCount: tokens.count)
                StandardError.print("\(label): \(tokens.count) tokens, \(n) chunks of \(contextLength)")
            }
            var line = ""
            let report = try evaluator.run(tokens: tokens, modelName: label, baseOutput: klBase, baseInput: reader) { i, _, ppl in
                line += String(format: "[%d]%.4f,", i, ppl)
                FileHandle.standardError.write(Data(String(format: "[%d]%.4f,", i, ppl).utf8))
            }
            StandardError.print("")
            StandardError.print(String(format: "%@: Final estimate: PPL = %.4f +/- %.5f (%.1f s)", label, report.perplexity, report.perplexityError, report.seconds))
            if let klBase { StandardError.print("saved log-probs to \(klBase)") }
            reports.append(report)
        }
        try common.emit(json: reports, markdown: Self.markdown(reports))
    }

    static func markdown(_ reports: [PerplexityReport]) -> String {
        var table = MarkdownTable(headers: ["Model", "ctx", "chunks", "tokens scored", "PPL ↓", "±"])
        for r in reports {
            table.add([r.model, "\(r.contextLength)", "\(r.chunks)", "\(r.scoredTokens)",
                       String(format: "%.4f", r.perplexity), String(format: "%.5f", r.perplexityError)])
        }
        var text = table.text
        let klds = reports.compactMap { r in r.kld.map { (r.model, $0) } }
        if !klds.isEmpty {
            var k = MarkdownTable(headers: ["Model", "PPL(Q)/PPL(base)", "Mean KLD", "Median KLD", "99% KLD", "Max KLD",
                                            "Same top p", "Mean Δp", "RMS Δp"])
            for (name, r) in klds {
                k.add([name, String(format: "%.4f", r.perplexityRatio),
                       String(format: "%.6f ± %.6f", r.meanKLD, r.meanKLDError),
                       String(format: "%.6f", r.kldPercentiles["median"] ?? .nan),
                       String(format: "%.6f", r.kldPercentiles["99"] ?? .nan),
                       String(format: "%.6f", r.kldPercentiles["max"] ?? .nan),
                       String(format: "%.3f ± %.3f %%", 100 * r.sameTopRate, 100 * r.sameTopRateError),
                       String(format: "%.3f ± %.3f %%", 100 * r.meanDeltaP, 100 * r.meanDeltaPError),
                       String(format: "%.3f %%", 100 * r.rmsDeltaP)])
            }
            text += "\n" + k.text
        }
        return text
    }
}
