import ArgumentParser
import Foundation
import LoomEval

/// `loom eval qa`: Theia's QA benchmark (answer perplexity; BERTScore is not implemented yet).
struct EvalQACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qa",
        abstract: "Answer perplexity of reference answers given chat-formatted questions, and greedy answers.",
        discussion: "BERTScore needs Loom's BERT encoder, which is not written yet: the BERT column is left empty.")

    @OptionGroup var common: EvalModelOptions
    @Option(help: "The qa.jsonl dataset (see Datasets/README.md).") var data: String
    @Option(help: "Use only the first N pairs.") var limit: Int?
    @Option(help: "Most tokens per greedy answer.") var maxTokens = 256
    @Option(name: .customLong("ctx"), help: "Context length in tokens.") var contextLength = 2048
    @Flag(help: "Skip generating answers (perplexity only).") var noGenerate = false
    @Flag(help: "Stop at the first malformed dataset line instead of skipping it.") var strict = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be positive, got \(limit)") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be positive, got \(maxTokens)") }
    }

    func run() throws {
        var (items, issues) = try QAItem.load(path: data, strict: strict)
        for issue in issues { StandardError.print("warning: \(data): \(issue) (skipped)") }
        if let limit { items = Array(items.prefix(limit)) }
        let pool = common.makePool()
        var reports: [QAReport] = []
        for name in common.modelNames {
            let (model, label) = try common.load(name)
            let evaluator = try QAEvaluator(model: model, contextLength: contextLength, maxAnswerTokens: maxTokens, pool: pool)
            reports.append(try evaluator.run(items, generate: !noGenerate, modelName: label) { r, i, n in
                StandardError.print(String(format: "%@ [%d/%d] %@: answer PPL %.3f", label, i, n, r.id, exp(r.answerNLL / Double(max(r.answerTokens, 1)))))
            })
        }
        var table = MarkdownTable(headers: ["Model", "Perplexity ↓", "BERT ↑"])
        for r in reports { table.add([r.model, String(format: "%.3f", r.answerPerplexity), "n/a"]) }
        try common.emit(json: reports, markdown: table.text)
    }
}
