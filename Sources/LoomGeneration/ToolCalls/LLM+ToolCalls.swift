import Foundation

extension LLM {
    /// How this model writes tool calls, detected from its chat template (``ToolCallFormat/generic``
    /// without one).
    public var toolCallFormat: ToolCallFormat {
        formatter.map { ToolCallFormat.detect(chatTemplate: $0.templateSource) } ?? .generic
    }

    /// Answers `messages` with `tools` available, split into content and tool calls.
    ///
    /// ```swift
    /// let tools = try ToolDefinition.list(fromJSON: Data(contentsOf: toolsURL))
    /// var conversation: [ChatMessage] = [.user("Weather in Paris?")]
    /// let reply = try await llm.respond(to: conversation, tools: tools, choice: .required)
    /// conversation.append(reply.message)
    /// for call in reply.toolCalls {
    ///     conversation.append(ChatMessage(role: "tool", content: run(call), toolCallID: call.id, name: call.name))
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - choice: `.required` or `.function(name)` constrain the answer to calls with a grammar
    ///     built from the tools' schemas (``ToolCallGrammar``); `.none` hides the tools.
    ///   - parallel: whether one answer may make several calls.
    ///   - format: the call syntax, when detection from the template is wrong.
    /// - Throws: ``ToolCallError`` for a schema the grammar compiler cannot take; generation
    ///   and template errors as ``respond(to:tools:options:)`` does.
    public func respond(to messages: [ChatMessage], tools: [ToolDefinition], choice: ToolChoice = .auto,
                        parallel: Bool = true, format: ToolCallFormat? = nil,
                        options: GenerationOptions = GenerationOptions()) async throws -> ToolCallParseResult {
        let format = format ?? toolCallFormat
        guard choice != .none, !tools.isEmpty else {
            let result = try await respond(to: messages, options: options)
            return ToolCallParseResult(content: result.text, toolCalls: [])
        }
        var options = options
        switch choice {
        case .required:
            options.grammar = try ToolCallGrammar.grammar(format: format, tools: tools, parallel: parallel)
        case let .function(name):
            options.grammar = try ToolCallGrammar.grammar(format: format, tools: tools, only: name, parallel: parallel)
        case .auto, .none:
            break
        }
        let result = try await respond(to: messages, tools: ToolDefinition.templateJSON(tools), options: options)
        return ToolCallParser(format: format, tools: tools, maximumCalls: parallel ? .max : 1).parse(result.text)
    }
}
