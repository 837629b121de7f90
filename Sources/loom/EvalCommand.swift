import ArgumentParser
import Foundation
import LoomEval
import LoomModels

/// `loom eval`: benchmarks (multiple choice, needle in a haystack).
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Benchmark models: multiple choice by log-likelihood, needle in a haystack.",
        subcommands: [EvalMultipleChoiceCommand.self, EvalNeedleCommand.self, EvalQACommand.self])
}

/// `loom eval mc`.
struct EvalMultipleChoiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mc",
        abstract: "Multiple-choice accuracy (acc, acc_norm) by log-likelihood, lm-evaluation-harness style.")

    @OptionGroup var common: EvalModelOptions
    @Option(help: "The mc.jsonl dataset (see Datasets/README.md).") var data: String
    @Option(parsing: .unconditional, help: "Solved examples before each question.") var fewshot = 0
    @Option(parsing: .unconditional, help: "Score only the first N questions.") var limit: Int?
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Context length in tokens.") var contextLength = 2048
    @Flag(help: "Stop at the first malformed dataset line instead of skipping it.") var strict = false

    func validate() throws {
        if fewshot < 0 { throw ValidationError("--fewshot must be ≥ 0, got \(fewshot)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be positive, got \(limit)") }
    }

    func run() throws {
        var (items, issues) = try MultipleChoiceItem.load(path: data, strict: strict)
        for issue in issues { StandardError.print("warning: \(data): \(issue) (skipped)") }
        if let limit { items = Array(items.prefix(limit)) }
        let pool = common.makePool()
        var reports: [MultipleChoiceReport] = []
        for name in common.modelNames {
            let (model, label) = try common.load(name)
            let evaluator = try MultipleChoiceEvaluator(model: model, contextLength: contextLength, pool: pool)
            let report = try evaluator.run(items, fewShot: fewshot, modelName: label) { i, n in
                if i % 10 == 0 || i == n { StandardError.print("\(label): \(i)/\(n)") }
            }
            reports.append(report)
        }
        var table = MarkdownTable(headers: ["Model", "n", "acc ↑", "acc_norm ↑"])
        for r in reports {
            table.add([r.model, "\(r.overall.count)", String(format: "%.4f ± %.4f", r.overall.acc, r.overall.accStderr),
                       String(format: "%.4f ± %.4f", r.overall.accNorm, r.overall.accNormStderr)])
        }
        let categories = Set(reports.flatMap { $0.categories.keys }).sorted()
        var byCategory = MarkdownTable(headers: ["Category"] + reports.map { "\($0.model) acc / acc_norm" })
        for c in categories {
            byCategory.add([c] + reports.map { r in
                r.categories[c].map { String(format: "%.3f / %.3f (n=%d)", $0.acc, $0.accNorm, $0.count) } ?? "–"
            })
        }
        try common.emit(json: reports, markdown: table.text + "\n" + byCategory.text)
    }
}

/// `loom eval needle`.
struct EvalNeedleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "needle",
        abstract: "Needle in a haystack: random 8-digit numbers at each depth and length, exact-match scored.")

    @OptionGroup var common: EvalModelOptions
    @Option(help: "Prompt lengths in tokens, e.g. 1k,2k,4k.") var lengths = "1k,2k,4k"
    @Option(help: "Depths 0…1, e.g. 0,0.25,0.5,0.75,1.") var depths = "0,0.25,0.5,0.75,1"
    @Option(parsing: .unconditional, help: "Needles per cell.") var samples = 1
    @Option(parsing: .unconditional, help: "Seed for the needles.") var seed: UInt64 = 1
    @Option(help: "Haystack text file (default: Datasets/haystack.txt).") var haystack = "Datasets/haystack.txt"
    @Option(help: "Write one CSV row per trial to this file.") var csv: String?
    @Option(help: "Write the SVG heatmap to this file (one per model: NAME-<i>.svg when several).") var svg: String?

    func parsedLengths() throws -> [Int] {
        try lengths.split(separator: ",").map { part in
            let s = part.trimmingCharacters(in: .whitespaces).lowercased()
            let value = s.hasSuffix("k") ? Int(s.dropLast()).map { $0 * 1024 } : Int(s)
            guard let value, value >= 64 else { throw ValidationError("--lengths: '\(part)' is not a token count ≥ 64") }
            return value
        }
    }

    func parsedDepths() throws -> [Double] {
        try depths.split(separator: ",").map { part in
            guard let v = Double(part.trimmingCharacters(in: .whitespaces)), v >= 0, v <= 1 else {
                throw ValidationError("--depths: '\(part)' is not a number in 0…1")
            }
            return v
        }
    }

    func validate() throws {
        _ = try parsedLengths()
        _ = try parsedDepths()
        if samples < 1 { throw ValidationError("--samples must be ≥ 1") }
    }

    func run() throws {
        let text = try readText(haystack)
        let options = NeedleOptions(lengths: try parsedLengths(), depths: try parsedDepths(), samples: samples, seed: seed)
        let pool = common.makePool()
        var reports: [NeedleReport] = []
        var csvText = ""
        for (index, name) in common.modelNames.enumerated() {
            let (model, label) = try common.load(name)
            let evaluator = try NeedleEvaluator(model: model, haystackText: text, options: options, pool: pool)
            let report = try evaluator.run(modelName: label) { t, i, n in
                StandardError.print("\(label) [\(i)/\(n)] length \(t.length) (\(t.promptTokens) tokens) depth \(t.depth): \(t.correct ? "✓" : "✗") \(t.needle) → \(t.answer.prefix(40).debugDescription)")
            }
            reports.append(report)
            csvText += index == 0 ? NeedleHeatmap.csv(report) : String(NeedleHeatmap.csv(report).drop(while: { $0 != "\n" }).dropFirst())
            if let svg {
                let path = common.modelNames.count == 1 ? svg : (svg as NSString).deletingPathExtension + "-\(index + 1).svg"
                try Data(NeedleHeatmap.svg(report).utf8).write(to: URL(fileURLWithPath: path))
                StandardError.print("wrote \(path)")
            }
        }
        if let csv {
            try Data(csvText.utf8).write(to: URL(fileURLWithPath: csv))
            StandardError.print("wrote \(csv)")
        }
        var markdown = ""
        for r in reports {
            var table = MarkdownTable(headers: ["\(r.model) depth \\ length"] + r.lengths.map(String.init))
            for d in r.depths {
                table.add([String(format: "%.0f%%", d * 100)] + r.lengths.map { l in
                    String(format: "%.2f", r.cells.first { $0.length == l && $0.depth == d }?.score ?? .nan)
                })
            }
            markdown += table.text + String(format: "\noverall: %.3f\n\n", r.overall)
        }
        try common.emit(json: reports, markdown: markdown)
    }
}
