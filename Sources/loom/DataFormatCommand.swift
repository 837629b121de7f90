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
        validation split is by document (chunks follow their parent_id), with --clusters from dedup by its \
        clusters, and by near-duplicate groups it finds itself (--split-threshold), so no near-copy of a \
        validation record is in train.
        """)

    @Argument(help: "The JSONL file to read.") var input: String
    @Option(name: .shortAndLong, help: "The folder to write.") var output: String
    @Option(help: "text or alpaca.") var format = "text"
    @Option(name: [.customLong("val-split"), .customLong("val-fraction")],
            help: "Fraction of documents (with their chunks and near-duplicate clusters) held out for validation.")
    var valSplit = 0.0
    @Option(help: "OUT.clusters.jsonl from loom data dedup, to keep near-duplicates on one side of the split.") var clusters: String?
    @Option(help: "Records at least this similar (MinHash Jaccard estimate) stay on one side of the split; 0 turns it off.")
    var splitThreshold = 0.5
    @Option(help: "The dataset's name in dataset_info.json.") var name = "loom_data"
    @Option(help: "The record field holding alpaca instructions.") var instructionField = "instruction"
    @Option(help: "qa: write alpaca question/answer pairs from each record with a local model (-m), keeping those the record supports.")
    var synthesize: String?
    @Option(name: [.short, .customLong("model")], help: "With --synthesize: the chat model (GGUF file or name, e.g. qwen2.5-0.5b).")
    var model: String?
    @Option(help: "With --synthesize: pairs asked for per record.") var pairs = 3
    @Option(help: "With --synthesize: the least fraction of an answer's content words found in the record.") var minSupport = 0.75
    @Option(help: "With --synthesize: the model's context (prompt + reply), in tokens.") var ctx = 2048
    @Option(name: .shortAndLong, help: "With --synthesize: threads for the model.") var threads: Int?
    @Flag(help: "Continue an interrupted run from OUT/train.jsonl.checkpoint.json: no output line lost or repeated, no record synthesised twice.")
    var resume = false

    func run() throws {
        enableDataProgress()
        guard let layout = CorpusFormatter.Format(rawValue: format) else {
            throw ValidationError("--format must be one of \(CorpusFormatter.Format.allCases.map(\.rawValue).joined(separator: ", ")) (got \(format))")
        }
        var formatter = CorpusFormatter()
        formatter.format = layout
        formatter.validationFraction = valSplit
        formatter.name = name
        formatter.instructionField = instructionField
        formatter.resume = resume
        guard splitThreshold >= 0 && splitThreshold < 1 else { throw ValidationError("--split-threshold must be in [0, 1) (got \(splitThreshold))") }
        formatter.splitThreshold = splitThreshold > 0 ? splitThreshold : nil
        if let clusters { try formatter.loadClusters(clusters) }
        if let synthesize {
            guard synthesize == "qa" else { throw ValidationError("--synthesize takes qa (got \(synthesize))") }
            guard let model else { throw ValidationError("--synthesize qa needs a chat model: -m qwen2.5-0.5b") }
            guard pairs >= 1, minSupport >= 0, minSupport <= 1 else { throw ValidationError("need --pairs ≥ 1 and --min-support in [0, 1]") }
            let writer = try ChatReplyWriter(model: model, contextLength: ctx, maxTokens: 96 * pairs, threads: threads)
            var synthesizer = QASynthesizer(generate: writer.reply)
            synthesizer.pairsPerChunk = pairs
            synthesizer.minSupport = minSupport
            formatter.synthesizer = synthesizer
            formatter.format = .alpaca
        } else if model != nil {
            throw ValidationError("-m is for --synthesize qa")
        }
        let stats = try formatter.run(input: input, output: output)
        printStageSummary(stats, detail: "\(stats.counters["validation_documents"] ?? 0) to validation; \(output)/dataset_info.json")
    }
}
