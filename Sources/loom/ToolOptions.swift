import ArgumentParser
import Foundation
import LoomGeneration

/// `loom chat --tools FILE`: the tools a model may call, how its calls are written, and
/// whether it must call one.
struct ToolOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A JSON file with an array of OpenAI tool definitions the model may call.",
                               discussion: "Calls are shown as they are parsed; type each result at the prompt."))
    var tools: String?
    @Option(help: "auto (the model decides), required (it must call a tool), none, or a tool's name (it must call that one).")
    var toolChoice: String = "auto"
    @Option(help: "The tool-call syntax: llama3, hermes, mistral or generic (default: detected from the chat template).")
    var toolCallFormat: String?
    @Flag(help: "Allow at most one tool call per answer.")
    var noParallelToolCalls = false

    func validate() throws {
        if let toolCallFormat, ToolCallFormat(rawValue: toolCallFormat) == nil {
            throw ValidationError("--tool-call-format must be one of \(ToolCallFormat.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(toolCallFormat)\"")
        }
        if tools == nil, toolChoice != "auto" { throw ValidationError("--tool-choice needs --tools FILE") }
    }

    /// The tool setup for a chat with `formatter`, or nil without `--tools`.
    func chatTools(formatter: ChatFormatter) throws -> ChatTools? {
        guard let tools else { return nil }
        guard let data = FileManager.default.contents(atPath: tools) else {
            throw ValidationError("cannot read the tools file \(tools)")
        }
        let definitions: [ToolDefinition]
        let choice: ToolChoice
        do {
            definitions = try ToolDefinition.list(fromJSON: data)
            choice = try ToolChoice.parse(word: toolChoice, tools: definitions)
        } catch let error as ToolCallError {
            throw ValidationError("\(tools): \(error)".replacingOccurrences(of: "tool_choice", with: "--tool-choice"))
        }
        let format = toolCallFormat.flatMap(ToolCallFormat.init(rawValue:)) ?? .detect(chatTemplate: formatter.templateSource)
        var grammar: Grammar?
        switch choice {
        case .required, .function:
            var only: String?
            if case let .function(name) = choice { only = name }
            do {
                grammar = try ToolCallGrammar.grammar(format: format, tools: definitions, only: only, parallel: !noParallelToolCalls)
            } catch let error as ToolCallError {
                throw ValidationError("\(tools): \(error)")
            }
        case .none, .auto:
            break
        }
        if choice == .none { return nil }
        return ChatTools(definitions: definitions, format: format,
                         parser: ToolCallParser(format: format, tools: definitions, maximumCalls: noParallelToolCalls ? 1 : .max),
                         grammar: grammar)
    }
}

/// The tools of a chat session: what the template is shown, how replies are parsed, and
/// the grammar that enforces a required call.
struct ChatTools {
    let definitions: [ToolDefinition]
    let format: ToolCallFormat
    let parser: ToolCallParser
    /// For `--tool-choice required` or a name: applied to the answer to a user message.
    let grammar: Grammar?

    var templateJSON: Data { ToolDefinition.templateJSON(definitions) }
}
