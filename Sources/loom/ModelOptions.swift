import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels

/// Options every model-using command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: [.short, .customLong("model")], help: "GGUF file, HF directory, model name or hf:OWNER/REPO[:QUANT][@REV] (default: smollm2).")
    var model: String?

    @Flag(help: "Use only cached hub files (as HF_HUB_OFFLINE=1); say what is missing instead of downloading.")
    var offline = false

    @Option(name: [.short, .customLong("threads")], parsing: .unconditional, help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Context length in tokens (default: the model's, at most 4096).")
    var contextLength: Int?

    @OptionGroup var rope: RopeOptions

    @OptionGroup var cache: CacheTypeOptions

    @OptionGroup var lora: LoRAOptions

    @Flag(name: .shortAndLong, help: "Log load details (file, architecture, threads, context, KV-cache bytes) to standard error.")
    var verbose = false

    func validate() throws {
        if let threads, threads < 1 || threads > 512 {
            throw ValidationError("--threads must be between 1 and 512, got \(threads)")
        }
        if let contextLength, contextLength < 1 {
            throw ValidationError("--ctx must be positive, got \(contextLength)")
        }
    }

    /// Resolves the model name or path (fetching a named model on first use).
    func resolvePath() throws -> String {
        ModelLocator.goOffline(offline)
        return try ModelLocator.resolve(model)
    }

    /// Loads the model and makes a session with the requested context and threads.
    func load() throws -> (LanguageModel, InferenceSession) {
        let overrides = rope.overrides
        let model = try LanguageModel(path: try resolvePath(), rope: overrides)
        try lora.attach(to: model)
        try cache.apply(to: model)
        if let contextLength, let warning = model.contextWarning(context: contextLength, ropeOverridden: !overrides.isEmpty) {
            StandardError.print(warning)
        }
        let pool = ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors)
        let session = try model.makeSession(contextLength: contextLength, pool: pool)
        LoadLog.model(model, threads: pool.threadCount, context: session.capacity, to: LoadLog.logger(verbose: verbose))
        return (model, session)
    }
}

/// Writes diagnostics to standard error (standard output carries only results).
enum StandardError {
    static func print(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// Writes to standard output immediately (streamed tokens must appear as they come).
enum StandardOutput {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
