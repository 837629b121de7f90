/// A model's reply split into the text meant for the user and the tool calls it made.
public struct ToolCallParseResult: Sendable, Equatable {
    /// The reply without its calls (surrounding whitespace trimmed); a call that could not be
    /// read stays here, as the model wrote it.
    public var content: String
    /// The calls, in the order written. Each has an id (the model's own where the family
    /// writes one, a fresh one otherwise) and its arguments as compact JSON text.
    public var toolCalls: [ChatMessage.ToolCall]

    public init(content: String, toolCalls: [ChatMessage.ToolCall]) {
        self.content = content
        self.toolCalls = toolCalls
    }

    /// The reply as an assistant message to append to the conversation (content nil when
    /// the reply was only calls, as OpenAI sends it).
    public var message: ChatMessage {
        ChatMessage(role: "assistant", content: toolCalls.isEmpty || !content.isEmpty ? content : nil,
                    toolCalls: toolCalls.isEmpty ? nil : toolCalls)
    }
}
