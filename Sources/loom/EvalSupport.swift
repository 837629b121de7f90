import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels

/// Options shared by the evaluation commands: several models, threads, output files.
struct EvalModelOptions: ParsableArguments {
    @Option(name: [.short, .customLong("model")], help: "GGUF file, model name or hf:OWNER/REPO[:QUANT][@REV]; repeat to compare models (default: smollm2).")
    var models: [String] = []
    @Flag(help: "Use only cached hub files (as HF_HUB_OFFLINE=1); say what is missing instead of downloading.")
    var offline = false

    @Option(name: [.short, .customLong("threads")], parsing: .unconditional, help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("json"), help: "Write the results as JSON to this file.")
    var jsonPath: String?

    @Option(name: .customLong("markdown"), help: "Write the Markdown table to this file (it is always printed).")
    var markdownPath: String?

    @OptionGroup var rope: RopeOptions

    @OptionGroup var cache: CacheTypeOptions

    @OptionGroup var lora: LoRAOptions

    func validate() throws {
        if let threads, threads < 1 || threads > 512 {
            throw ValidationError("--threads must be between 1 and 512, got \(threads)")
        }
    }

    var modelNames: [String?] { models.isEmpty ? [nil] : models.map { Optional($0) } }

    func makePool() -> ThreadPool { ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors) }

    /// Loads one model by name or path, announcing it on standard error.
    func load(_ name: String?) throws -> (model: LanguageModel, label: String) {
        ModelLocator.goOffline(offline)
        let path = try ModelLocator.resolve(name)
        StandardError.print("loading \(path)")
        let label = name ?? (path as NSString).lastPathComponent
        let model = try LanguageModel(path: path, rope: rope.overrides)
        try lora.attach(to: model)
        try cache.apply(to: model)
        return (model, lora.paths.isEmpty && lora.scaled.isEmpty ? label : label + " + LoRA")
    }

    /// Prints the Markdown table and writes the JSON/Markdown files when asked.
    func emit<T: Encodable>(json value: T, markdown: String) throws {
        StandardOutput.write(markdown)
        if let jsonPath {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try encoder.encode(value).write(to: URL(fileURLWithPath: jsonPath))
            StandardError.print("wrote \(jsonPath)")
        }
        if let markdownPath {
            try Data(markdown.utf8).write(to: URL(fileURLWithPath: markdownPath))
            StandardError.print("wrote \(markdownPath)")
        }
    }
}

/// Reads a whole text file, naming it on failure.
func readText(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read \(path)")
    }
    return String(decoding: data, as: UTF8.self)
}
