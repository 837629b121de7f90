import ArgumentParser
import LoomData

/// `loom data format`: the corpus as a training set with LLaMA-Factory's dataset_info.json.
struct DataFormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Write train.jsonl (+ validation.jsonl) and dataset_info.json for loom finetune --dataset-info and LLaMA-Factory.",
        discussion: """
        --format text writes {"text"} lines for continued pre-training; alpaca writes {"instruction", "input", \
        "output"} with the output from the record's text and the instruction from --instruction-field. The \
        validation split is by document (chunks follow their parent_id) and, with --clusters from dedup, by \
        near-duplicate cluster.
        """)

    @Argument(help: "The JSONL file to read.") var input: String
    @Option(name: .shortAndLong, help: "The folder to write.") var output: String
    @Option(help: "text or alpaca.") var format = "text"
    @Option(help: "Fraction of documents held out for validation.") var valFraction = 0.0
    @Option(help: "OUT.clusters.jsonl from loom data dedup, to keep near-duplicates on one side of the split.") var clusters: String?
    @Option(help: "The dataset's name in dataset_info.json.") var name = "loom_data"
    @Option(help: "The record field holding alpaca instructions.") var instructionField = "instruction"

    func run() throws {
        enableDataProgress()
        guard let layout = CorpusFormatter.Format(rawValue: format) else {
            throw ValidationError("--format must be one of \(CorpusFormatter.Format.allCases.map(\.rawValue).joined(separator: ", ")) (got \(format))")
        }
        var formatter = CorpusFormatter()
        formatter.format = layout
        formatter.validationFraction = valFraction
        formatter.name = name
        formatter.instructionField = instructionField
        if let clusters { try formatter.loadClusters(clusters) }
        let stats = try formatter.run(input: input, output: output)
        printStageSummary(stats, detail: "\(stats.counters["validation_documents"] ?? 0) to validation; \(output)/dataset_info.json")
    }
}
