import ArgumentParser
import Foundation
import LoomEval
import LoomGeneration
import LoomKernels
import LoomModels

/// `loom embed`: text in, one JSON line per embedding out.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the embedding of each text as a JSON line.",
        discussion: """
        By default the sentence encoder all-MiniLM-L6-v2 (fetched on first use; text past its 256 tokens \
        is truncated, as sentence-transformers does). With -m MODEL, a decoder model's final hidden \
        states pooled with --pooling (mean by default); input longer than --ctx is an error. \
        Vectors are L2-normalised unless --no-normalize. Each output line is \
        {"index", "id"?, "tokens", "embedding"}, in input order.
        """)

    @Option(name: [.short, .customLong("model")], help: "A decoder model (GGUF, HF directory or name) to embed with instead of the encoder.")
    var model: String?
    @OptionGroup var embedding: EmbeddingOptions
    @Option(name: [.short, .customLong("input")], help: "Read texts from FILE: one per line, or one JSON record per line in a .jsonl file (see --field); - for standard input.")
    var input: String?
    @Option(help: "The text field of .jsonl records (their \"id\" is kept).") var field = "text"
    @Option(name: [.short, .customLong("output")], help: "Write the JSON lines to FILE instead of standard output.")
    var output: String?
    @Flag(help: "Keep the pooled vectors' length (no L2 normalisation).") var noNormalize = false
    @Option(name: [.short, .customLong("threads")], parsing: .unconditional, help: "Worker threads (default: all cores).")
    var threads: Int?
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Most tokens per input with -m (default: the model's context).")
    var contextLength: Int?
    @Argument(help: "Texts to embed (or use --input).") var texts: [String] = []

    func validate() throws {
        if input == nil && texts.isEmpty { throw ValidationError("give texts to embed, or --input FILE") }
        if input != nil && !texts.isEmpty { throw ValidationError("give either texts or --input, not both") }
        if model != nil, let e = embedding.embeddingModel {
            throw ValidationError("give either -m (a decoder) or --embedding-model \(e), not both")
        }
        if embedding.embeddingModel == "none" || embedding.embeddingModel == "decoder" {
            throw ValidationError("--embedding-model \(embedding.embeddingModel!) is for loom serve; use -m MODEL for a decoder")
        }
        if let threads, threads < 1 || threads > 512 { throw ValidationError("--threads must be between 1 and 512, got \(threads)") }
        if let contextLength, contextLength < 1 { throw ValidationError("--ctx must be positive, got \(contextLength)") }
    }

    func run() throws {
        let records = try readRecords()
        let pool = ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors)
        let embedder: any TextEmbedder
        if let model {
            let languageModel = try LanguageModel(path: try ModelLocator.resolve(model))
            embedder = DecoderEmbedder(model: languageModel, pooling: embedding.poolingChoice ?? .mean,
                                       maxTokens: contextLength, pool: pool)
        } else {
            embedder = try SentenceEncoder(path: try ModelLocator.resolve(embedding.embeddingModel ?? "minilm"),
                                           pooling: embedding.poolingChoice, pool: pool)
        }
        let sink = try OutputSink(path: output)
        for (index, record) in records.enumerated() {
            let result: (vector: [Float], tokenCount: Int)
            do {
                result = try embedder.embed(record.text, normalize: !noNormalize)
            } catch let error as EmbeddingError {
                throw ValidationError("input \(record.label): \(error)")
            }
            var line: [String: Any] = ["index": index, "tokens": result.tokenCount]
            if let id = record.id { line["id"] = id }
            let rest = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes])
            // Each value in Float's shortest round-trip form (half the bytes of Double's).
            let vector = result.vector.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",")
            try sink.write(Data("{\"embedding\":[\(vector)],".utf8) + rest.dropFirst() + Data("\n".utf8))
        }
        try sink.close()
    }

    /// A text to embed, with the id of its JSONL record and where it came from for errors.
    struct Record {
        var text: String
        var id: Any?
        var label: String
    }

    func readRecords() throws -> [Record] {
        guard let input else { return texts.enumerated().map { Record(text: $1, id: nil, label: "\($0 + 1)") } }
        let data: Data
        if input == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: input) else { throw ValidationError("cannot read \(input)") }
            data = d
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var records: [Record] = []
        for (i, raw) in lines.enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let label = "\(input): line \(i + 1)"
            if input.hasSuffix(".jsonl") {
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                    throw ValidationError("\(label): not a JSON object")
                }
                guard let text = object[field] as? String else {
                    throw ValidationError("\(label): no string field \"\(field)\"")
                }
                records.append(Record(text: text, id: object["id"], label: label))
            } else {
                records.append(Record(text: String(line), id: nil, label: label))
            }
        }
        guard !records.isEmpty else { throw ValidationError("\(input): no texts") }
        return records
    }
}

/// Standard output, or a file written whole and moved into place when closed.
private final class OutputSink {
    private let path: String?
    private var buffer = Data()

    init(path: String?) throws { self.path = path }

    func write(_ data: Data) throws {
        if path == nil { FileHandle.standardOutput.write(data) } else { buffer.append(data) }
    }

    func close() throws {
        guard let path else { return }
        try buffer.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
