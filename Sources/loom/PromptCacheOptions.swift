import ArgumentParser
import Foundation
import LoomGeneration
import LoomModels

/// llama.cpp's `--prompt-cache FILE`, `--prompt-cache-all` and `--prompt-cache-ro` for
/// `run` and `chat`: a long prompt (a document) is evaluated once, and later runs that start
/// with it evaluate only what follows.
struct PromptCacheOptions: ParsableArguments {
    @Option(name: .customLong("prompt-cache"),
            help: "Cache the evaluated prompt in FILE: loaded when it exists and fits the model, saved after the run.")
    var file: String?
    @Flag(name: .customLong("prompt-cache-all"), help: "Save the generated tokens too (chat always saves the conversation).")
    var all = false
    @Flag(name: .customLong("prompt-cache-ro"), help: "Use the prompt cache but never write it.")
    var readOnly = false

    func validate() throws {
        if file == nil && (all || readOnly) {
            throw ValidationError("--prompt-cache-all and --prompt-cache-ro need --prompt-cache FILE")
        }
    }

    /// Loads the cache into `generator` when the file exists and returns its token count.
    /// A cache saved for another model, adapter set, RoPE setting or cache type (or a
    /// truncated one) is reported and ignored, and replaced when the run saves. A file that
    /// is not a prompt cache at all is an error: it is never overwritten.
    @discardableResult
    func load(into generator: Generator) throws -> Int {
        guard let file, FileManager.default.fileExists(atPath: file) else { return 0 }
        do {
            return try generator.loadPromptCache(from: URL(fileURLWithPath: file))
        } catch let error as SessionStateError {
            if case .notAStateFile = error {
                throw ValidationError("--prompt-cache: \(error); refusing to overwrite it")
            }
            StandardError.print("warning: \(error); evaluating the prompt from scratch")
            return 0
        }
    }

    /// Saves the cached tokens the next run can reuse: the prompt's (`prompt`), or with
    /// `everything` (or `--prompt-cache-all`) all the session holds.
    func save(_ generator: Generator, prompt: [Int], everything: Bool = false) throws {
        guard let file, !readOnly else { return }
        let count = everything || all ? nil : generator.cachedPrefixLength(of: prompt)
        try generator.savePromptCache(to: URL(fileURLWithPath: file), tokens: count)
    }
}
