import ArgumentParser
import Foundation
import LoomEval
import LoomFormats
import LoomHub

/// `loom eval qa`: Theia's QA benchmark — answer perplexity and BERTScore of greedy answers.
struct EvalQACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qa",
        abstract: "Answer perplexity of reference answers, and BERTScore of the models' greedy answers.",
        discussion: """
        Per model and pair: the question is formatted with the model's chat template and the
        dataset's system prompt; the reference answer's tokens are teacher-forced after it
        (answer perplexity, token-weighted over the set), and the greedy answer (at most
        --max-tokens) is scored against the reference with BERTScore on Loom's BERT encoder
        (bert_score's algorithm; default all-MiniLM-L6-v2, last layer). The table's BERT column
        is the mean F1.
        """)

    @OptionGroup var common: EvalModelOptions
    @Option(help: "The qa.jsonl dataset (see Datasets/README.md).") var data: String
    @Option(parsing: .unconditional, help: "Use only the first N pairs.") var limit: Int?
    @Option(parsing: .unconditional, help: "Most tokens per greedy answer.") var maxTokens = 256
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Context length in tokens.") var contextLength = 2048
    @Flag(help: "Skip generating answers (perplexity only; implies --no-bertscore).") var noGenerate = false
    @Flag(help: "Stop at the first malformed dataset line instead of skipping it.") var strict = false
    @Option(help: "BERT encoder for BERTScore: a model name (minilm) or a directory/.safetensors path.") var bertModel = "minilm"
    @Option(parsing: .unconditional, help: "Encoder layer whose hidden states are compared (default: the last).") var bertLayer: Int?
    @Flag(help: "Weight BERTScore tokens by idf computed on the dataset's reference answers.") var idf = false
    @Option(help: "Rescale BERTScore with baseline values P,R,F: s' = (s - b) / (1 - b).") var baseline: String?
    @Flag(help: "Do not compute BERTScore (answers are still generated unless --no-generate).") var noBertscore = false

    func parsedBaseline() throws -> BERTScoreBaseline? {
        guard let baseline else { return nil }
        let parts = baseline.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, let p = parts[0], let r = parts[1], let f = parts[2], [p, r, f].allSatisfy({ $0 < 1 && $0.isFinite }) else {
            throw ValidationError("--baseline must be three numbers below 1, P,R,F (e.g. 0.83,0.83,0.83), got '\(baseline)'")
        }
        return BERTScoreBaseline(precision: p, recall: r, f1: f)
    }

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be positive, got \(limit)") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be positive, got \(maxTokens)") }
        if let bertLayer, bertLayer < 0 { throw ValidationError("--bert-layer must be ≥ 0, got \(bertLayer)") }
        _ = try parsedBaseline()
    }

    func run() throws {
        var (items, issues) = try QAItem.load(path: data, strict: strict)
        for issue in issues { StandardError.print("warning: \(data): \(issue) (skipped)") }
        if let limit { items = Array(items.prefix(limit)) }
        let pool = common.makePool()
        var scoring: QABERTScoring?
        if !noBertscore && !noGenerate {
            let path = try ModelLocator.resolve(bertModel)
            StandardError.print("loading BERT encoder \(path)")
            let scorer = try BERTScorer(path: path, layer: bertLayer, baseline: try parsedBaseline(), pool: pool)
            scoring = QABERTScoring(scorer: scorer, idf: idf, references: items.map(\.answer))
        }
        var reports: [QAReport] = []
        for name in common.modelNames {
            let (model, label) = try common.load(name)
            let evaluator = try QAEvaluator(model: model, contextLength: contextLength, maxAnswerTokens: maxTokens, pool: pool)
            reports.append(try evaluator.run(items, generate: !noGenerate, modelName: label, bertScoring: scoring) { r, i, n in
                var line = String(format: "%@ [%d/%d] %@: answer PPL %.3f", label, i, n, r.id, r.answerPerplexity)
                if let b = r.bertScore { line += String(format: ", BERT F1 %.4f (%d tokens)", b.f1, r.generatedTokens) }
                StandardError.print(line)
            })
        }
        var table = MarkdownTable(headers: ["Model", "Perplexity ↓", "BERT ↑"])
        for r in reports {
            table.add([r.model, String(format: "%.3f", r.answerPerplexity), r.bertScore.map { String(format: "%.4f", $0.f1) } ?? "n/a"])
        }
        var details = MarkdownTable(headers: ["Model", "pairs", "mean item PPL", "BERT P", "BERT R", "BERT F1", "seconds"])
        for r in reports {
            let b = r.bertScore
            details.add([r.model, "\(r.results.count)", String(format: "%.3f", r.meanItemPerplexity),
                         b.map { String(format: "%.4f", $0.precision) } ?? "n/a", b.map { String(format: "%.4f", $0.recall) } ?? "n/a",
                         b.map { String(format: "%.4f", $0.f1) } ?? "n/a", String(format: "%.0f", r.seconds)])
        }
        var note = ""
        if let s = scoring?.settings {
            note = "\nBERTScore: \((s.model as NSString).lastPathComponent), layer \(s.layer), idf \(s.idf ? "on" : "off")"
                + (s.baseline.map { String(format: ", rescaled with baseline P %.4f R %.4f F %.4f", $0.precision, $0.recall, $0.f1) } ?? ", not rescaled") + "\n"
        }
        try common.emit(json: reports, markdown: table.text + "\n" + details.text + note)
    }
}
