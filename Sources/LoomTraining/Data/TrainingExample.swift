import LoomGeneration

/// One training example as read from a dataset, before tokenisation: a conversation (chat
/// data, rendered later with the model's own chat template) or a raw text (continued
/// pre-training, every token trained).
public struct TrainingExample: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// Messages in chat-template roles (`system`, `user`, `assistant`, `tool`); assistant
        /// turns are the ones trained.
        case conversation([ChatMessage])
        /// Plain text.
        case text(String)
    }

    public var content: Content
    /// Tool definitions given to the template (a JSON array as text), or nil.
    public var tools: String?
    /// Where it came from, `FILE: line N`, for messages about it.
    public var source: String

    public init(content: Content, tools: String? = nil, source: String) {
        self.content = content
        self.tools = tools
        self.source = source
    }

    /// The conversation's messages, or nil for a text example.
    public var messages: [ChatMessage]? {
        if case .conversation(let messages) = content { return messages }
        return nil
    }
}
