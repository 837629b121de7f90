import ArgumentParser
import LoomData

/// `loom data chunk`: documents to token windows of a model's tokenizer.
struct DataChunkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk",
        abstract: "Split documents into windows of at most --max-tokens tokens of a model's tokenizer, with --overlap.")

    @Argument(help: "The JSONL file to read.") var input: String
    @Option(name: .shortAndLong, help: "The JSONL file to write.") var output: String
    @Option(name: [.short, .customLong("model")], help: "GGUF file or model name whose tokenizer counts tokens (default: smollm2).")
    var model: String?
    @Option(help: "A Hugging Face tokenizer.json file or model directory to use instead of a model.") var tokenizer: String?
    @Option(help: "The largest window, in tokens.") var maxTokens = 512
    @Option(help: "Tokens shared by consecutive windows.") var overlap = 64
    @Flag(help: "Continue an interrupted run from OUT.checkpoint.json: no output line lost or repeated.") var resume = false

    func run() throws {
        enableDataProgress()
        try checkDistinct(input: input, output: output)
        let bpe = try loadTokenizer(model: model, huggingFace: tokenizer)
        let chunker = try TextChunker(maxTokens: maxTokens, overlap: overlap,
                                      encode: { bpe.encode($0, addSpecial: false, parseSpecial: false) },
                                      decode: { bpe.decode($0) })
        var stage = CorpusChunker(chunker: chunker)
        stage.resume = resume
        let stats = try stage.run(input: input, output: output)
        printStageSummary(stats, detail: "\(stats.counters["tokens"] ?? 0) tokens, \(stats.counters["documents_split"] ?? 0) documents split")
    }
}
