import ArgumentParser
import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer

/// `loom run`: stream a model's answer to one prompt.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate a continuation of a prompt, streamed to standard output.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.short, .customLong("prompt")], help: "The prompt (use - to read it from standard input).")
    var prompt: String
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var draft: DraftOptions
    @Flag(help: "Use the prompt as plain text, without the chat format.") var raw = false
    @Option(name: .customLong("system"), help: "System message for the chat format.") var system: String?
    @Option(parsing: .unconditional, help: "Print each token as a JSON line with its log-prob and the N best alternatives.")
    var topLogprobs: Int = 0
    @Flag(help: "Print timing statistics to standard error.") var stats = false
    @OptionGroup var promptCache: PromptCacheOptions

    func validate() throws {
        if topLogprobs < 0 || topLogprobs > 100 { throw ValidationError("--top-logprobs must be in 0…100, got \(topLogprobs)") }
    }

    func run() throws {
        let text = prompt == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : prompt
        let (model, session) = try modelOptions.load()
        let tokenizer = model.tokenizer
        let promptText: String
        if raw {
            promptText = text
        } else {
            let messages: [ChatMessage] = (system.map { [.system($0)] } ?? []) + [.user(text)]
            promptText = try ChatFormatter(model: model).render(messages, addGenerationPrompt: true)
        }
        // A chat prompt already carries its own BOS where the format wants one.
        let ids = tokenizer.encode(promptText, addSpecial: raw)
        var options = try sampling.generationOptions(defaults: model.generationDefaults)
        options.topLogprobs = topLogprobs
        options.speculative = draft.options
        let generator = Generator(session: session)
        try draft.attach(to: generator, offline: modelOptions.offline)
        try promptCache.load(into: generator)
        let reused = generator.reusablePrefixLength(of: ids)
        let result = try generator.generate(prompt: ids, options: options) { token in
            if topLogprobs > 0 {
                if !token.isEndOfGeneration || !token.text.isEmpty {
                    StandardOutput.write(TokenLogprobLine(token: token, tokenizer: tokenizer).json + "\n")
                }
            } else {
                StandardOutput.write(token.text)
            }
            return true
        }
        if topLogprobs == 0 { StandardOutput.write("\n") }
        try promptCache.save(generator, prompt: ids)
        if stats, promptCache.file != nil {
            StandardError.print("prompt cache: \(reused) of \(ids.count) prompt tokens reused")
        }
        if stats {
            let tg = Double(result.tokens.count) / max(result.generationSeconds, 1e-9)
            StandardError.print(String(
                format: "prompt: %d tokens in %.3f s (%.1f tokens/s); generated: %d tokens in %.3f s (%.1f tokens/s); finish: %@",
                result.promptTokenCount, result.promptSeconds, Double(result.promptTokenCount) / max(result.promptSeconds, 1e-9),
                result.tokens.count, result.generationSeconds, tg, result.finishReason.rawValue))
            if let line = result.speculativeSummary { StandardError.print(line) }
        }
    }
}

/// One `--top-logprobs` output line.
struct TokenLogprobLine: Encodable {
    struct Alternative: Encodable {
        let id: Int
        let text: String
        let logprob: Float
    }
    let id: Int
    let text: String
    let logprob: Float?
    let top: [Alternative]
    let end_of_generation: Bool

    init(token: GeneratedToken, tokenizer: BPETokenizer) {
        id = token.id
        text = tokenizer.decode([token.id])
        logprob = token.logprob?.logprob
        top = token.topLogprobs.map { Alternative(id: $0.id, text: tokenizer.decode([$0.id]), logprob: $0.logprob) }
        end_of_generation = token.isEndOfGeneration
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
