import ArgumentParser
import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer

/// `loom chat`: talk to a model in its own chat format, interactively or in one shot.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a model using its own chat template.",
        discussion: """
        Interactive when standard input is a terminal: type a message and press Enter; end a line \
        with \\ to continue on the next, or wrap several lines in \"\"\". Commands: /reset, \
        /system TEXT, /save FILE, /help, /quit. Ctrl-C stops the current answer; Ctrl-D or /quit exits.
        With -p, answers one message and exits; with a JSON conversation on standard input \
        ([{"role": …, "content": …}, …] or {"messages": […]}), prints the next assistant message.
        Theia's recommended settings: --temperature 0 --top-k -1 --top-p 1 --max-tokens 256 --ctx 39680
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var draft: DraftOptions
    @OptionGroup var templateOptions: TemplateOptions
    @Option(name: [.short, .customLong("prompt")], help: "Answer this one message and exit.")
    var prompt: String?
    @Option(help: "System prompt (replaces the template's default).") var system: String?
    @Flag(help: "Print time to first token and tokens/s after each answer.") var stats = false
    @OptionGroup var promptCache: PromptCacheOptions

    func run() throws {
        let (model, session) = try modelOptions.load()
        let generator = Generator(session: session)
        try draft.attach(to: generator, offline: modelOptions.offline)
        var options = try sampling.generationOptions(defaults: model.generationDefaults)
        options.speculative = draft.options
        var chat = ChatLoop(generator: generator, formatter: try templateOptions.formatter(for: model),
                            options: options, showStats: stats)
        if let system { chat.conversation.append(.system(system)) }
        try promptCache.load(into: chat.generator)
        chat.promptCache = promptCache

        if let prompt {
            chat.conversation.append(.user(prompt))
            try chat.answer()
        } else if isatty(STDIN_FILENO) == 0 {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            var messages = try ChatMessage.conversation(fromJSON: data)
            if system != nil { messages.removeAll { $0.role == "system" } }
            chat.conversation += messages
            try chat.answer()
        } else {
            try chat.interact(modelName: (model.path as NSString).lastPathComponent)
        }
    }
}

/// The conversation state and the turn loop behind `loom chat`.
struct ChatLoop {
    let generator: Generator
    let formatter: ChatFormatter
    let options: GenerationOptions
    let showStats: Bool
    var conversation: [ChatMessage] = []
    /// Where the conversation's evaluated state is saved after each answer (`--prompt-cache`).
    var promptCache: PromptCacheOptions?

    /// Generates the assistant's next message, streams it to standard output and appends it.
    /// An interrupt (Ctrl-C) ends the answer early; what was said so far is kept.
    mutating func answer(interrupt: InterruptFlag? = nil) throws {
        let text = try formatter.render(conversation, addGenerationPrompt: true)
        let ids = generator.model.tokenizer.encode(text, addSpecial: false)
        let result = try generator.generate(prompt: ids, options: options) { token in
            StandardOutput.write(token.text)
            return !(interrupt?.isSet ?? false)
        }
        StandardOutput.write("\n")
        conversation.append(.assistant(result.text))
        try promptCache?.save(generator, prompt: ids, everything: true)
        if showStats {
            let tokensPerSecond = Double(result.tokens.count) / max(result.generationSeconds, 1e-9)
            StandardError.print(String(
                format: "[prompt %d tokens, time to first token %.3f s; %d tokens at %.1f tokens/s; %@]",
                result.promptTokenCount, result.promptSeconds, result.tokens.count, tokensPerSecond,
                result.finishReason.rawValue))
            if let line = result.speculativeSummary { StandardError.print("[\(line)]") }
        }
    }

    /// The interactive loop: reads messages and commands until end of input or /quit.
    mutating func interact(modelName: String) throws {
        let interrupt = InterruptFlag.installed()
        StandardError.print("Chatting with \(modelName). /help lists commands; Ctrl-C stops an answer, Ctrl-D exits.")
        while let input = Self.readMessage() {
            let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("/") {
                if try !command(trimmed) { break }
                continue
            }
            conversation.append(.user(input))
            interrupt.begin()
            do {
                try answer(interrupt: interrupt)
            } catch {
                // A turn that cannot run (too long for the context, template error) is dropped.
                conversation.removeLast()
                StandardError.print("error: \(error)")
            }
            if interrupt.end() { StandardError.print("[stopped]") }
        }
    }

    /// Runs a slash command; returns false to quit.
    mutating func command(_ line: String) throws -> Bool {
        let (name, argument) = line.firstIndex(of: " ").map {
            (String(line[..<$0]), String(line[line.index(after: $0)...]).trimmingCharacters(in: .whitespaces))
        } ?? (line, "")
        switch name {
        case "/quit", "/exit":
            return false
        case "/reset":
            let system = conversation.first { $0.role == "system" }
            conversation = system.map { [$0] } ?? []
            StandardError.print("[conversation cleared]")
        case "/system":
            conversation.removeAll { $0.role == "system" }
            if !argument.isEmpty { conversation.insert(.system(argument), at: 0) }
            StandardError.print(argument.isEmpty ? "[system prompt: template default]" : "[system prompt set]")
        case "/save":
            guard !argument.isEmpty else { StandardError.print("usage: /save FILE"); break }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
            do {
                try encoder.encode(conversation).write(to: URL(fileURLWithPath: argument), options: .atomic)
                StandardError.print("[saved \(conversation.count) messages to \(argument)]")
            } catch {
                StandardError.print("error: cannot write \(argument): \(error.localizedDescription)")
            }
        case "/help":
            StandardError.print("""
                /reset        forget the conversation (keeps the system prompt)
                /system TEXT  set the system prompt (empty: the template's default)
                /save FILE    write the conversation as JSON
                /quit         exit
                End a line with \\ to continue it; wrap several lines in \"\"\" to send them as one message.
                """)
        default:
            StandardError.print("unknown command \(name); /help lists them")
        }
        return true
    }

    /// One message from standard input: a line, lines joined by trailing backslashes, or a
    /// block between lines of `"""`. Nil at end of input.
    static func readMessage() -> String? {
        StandardOutput.write("> ")
        guard var line = readLine(strippingNewline: true) else { return nil }
        if line.trimmingCharacters(in: .whitespaces) == "\"\"\"" {
            var lines: [String] = []
            while let next = readLine(strippingNewline: true), next.trimmingCharacters(in: .whitespaces) != "\"\"\"" {
                lines.append(next)
            }
            return lines.joined(separator: "\n")
        }
        var message = ""
        while line.hasSuffix("\\") {
            message += line.dropLast() + "\n"
            StandardOutput.write(". ")
            guard let next = readLine(strippingNewline: true) else { break }
            line = next
        }
        return message + (line.hasSuffix("\\") ? "" : line)
    }
}
