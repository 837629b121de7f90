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
        With --tools FILE (OpenAI tool definitions), the model's tool calls are shown as \
        [tool call ID] NAME ARGUMENTS and each result is read from the prompt (in -p mode from \
        standard input, one line per call); the answer then goes on with the results. \
        --tool-choice required (or a tool's name) makes the model call a tool, enforced by a grammar.
        Theia's recommended settings: --temperature 0 --top-k -1 --top-p 1 --max-tokens 256 --ctx 39680
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var draft: DraftOptions
    @OptionGroup var templateOptions: TemplateOptions
    @OptionGroup var toolOptions: ToolOptions
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
        let formatter = try templateOptions.formatter(for: model)
        var chat = ChatLoop(generator: generator, formatter: formatter, options: options, showStats: stats,
                            tools: try toolOptions.chatTools(formatter: formatter))
        if let system { chat.conversation.append(.system(system)) }
        try promptCache.load(into: chat.generator)
        chat.promptCache = promptCache

        if let prompt {
            chat.conversation.append(.user(prompt))
            try chat.turn()
        } else if isatty(STDIN_FILENO) == 0 {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            var messages = try ChatMessage.conversation(fromJSON: data)
            if system != nil { messages.removeAll { $0.role == "system" } }
            chat.conversation += messages
            // Standard input held the conversation: calls are shown, no results can be read.
            _ = try chat.answer(requireCall: messages.last?.role != "tool")
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
    /// `--tools`: shown to the template, parsed out of answers.
    var tools: ChatTools?
    var conversation: [ChatMessage] = []
    /// Where the conversation's evaluated state is saved after each answer (`--prompt-cache`).
    var promptCache: PromptCacheOptions?

    /// Answers the last user message; each tool call the answer makes is shown and its result
    /// read from standard input (a line per call), then the model answers again with the
    /// results, until it answers without calls or input ends.
    mutating func turn(interrupt: InterruptFlag? = nil) throws {
        var calls = try answer(interrupt: interrupt, requireCall: true)
        while !calls.isEmpty, !(interrupt?.isSet ?? false) {
            for call in calls {
                StandardOutput.write("[result of \(call.name) \(call.id ?? "")] > ")
                guard let line = readLine(strippingNewline: true) else {
                    StandardOutput.write("\n")
                    return
                }
                conversation.append(ChatMessage(role: "tool", content: line, toolCallID: call.id, name: call.name))
            }
            calls = try answer(interrupt: interrupt, requireCall: false)
        }
    }

    /// Generates the assistant's next message, streams it to standard output and appends it;
    /// returns the tool calls it made (shown as `[tool call ID] NAME ARGUMENTS`). With
    /// `requireCall`, a required tool choice's grammar applies. An interrupt (Ctrl-C) ends the
    /// answer early; what was said so far is kept.
    @discardableResult
    mutating func answer(interrupt: InterruptFlag? = nil, requireCall: Bool = false) throws -> [ChatMessage.ToolCall] {
        let text = try formatter.render(conversation, tools: tools?.templateJSON, addGenerationPrompt: true)
        let ids = generator.model.tokenizer.encode(text, addSpecial: false)
        var options = self.options
        if requireCall, let grammar = tools?.grammar { options.grammar = grammar }
        var stream = tools.map { ToolCallStream(parser: $0.parser) }
        let result = try generator.generate(prompt: ids, options: options) { token in
            StandardOutput.write(stream != nil ? stream!.append(token.text) : token.text)
            return !(interrupt?.isSet ?? false)
        }
        var calls: [ChatMessage.ToolCall] = []
        if let tools, var stream {
            let end = stream.finish()
            StandardOutput.write(end.content)
            calls = end.toolCalls
            let content = tools.parser.parse(result.text, makeID: { "" }).content
            conversation.append(calls.isEmpty ? .assistant(result.text)
                                : ChatMessage(role: "assistant", content: content.isEmpty ? nil : content, toolCalls: calls))
        } else {
            conversation.append(.assistant(result.text))
        }
        StandardOutput.write("\n")
        for call in calls { StandardOutput.write("[tool call \(call.id ?? "")] \(call.name) \(call.arguments)\n") }
        try promptCache?.save(generator, prompt: ids, everything: true)
        if showStats {
            let tokensPerSecond = Double(result.tokens.count) / max(result.generationSeconds, 1e-9)
            StandardError.print(String(
                format: "[prompt %d tokens, time to first token %.3f s; %d tokens at %.1f tokens/s; %@]",
                result.promptTokenCount, result.promptSeconds, result.tokens.count, tokensPerSecond,
                result.finishReason.rawValue))
            if let line = result.speculativeSummary { StandardError.print("[\(line)]") }
        }
        return calls
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
            let before = conversation.count
            conversation.append(.user(input))
            interrupt.begin()
            do {
                try turn(interrupt: interrupt)
            } catch {
                // A turn that cannot run (too long for the context, template error) is dropped.
                conversation.removeLast(conversation.count - before)
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
