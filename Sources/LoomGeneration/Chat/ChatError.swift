/// Errors of the chat layer: conversations, templates and prompts that cannot be used.
public enum ChatError: Error, CustomStringConvertible, Equatable {
    /// A conversation (JSON or built in code) that cannot be rendered.
    case invalidConversation(String)
    /// The chat template failed (its message names the template line and column).
    case templateFailed(String)
    /// The model has no chat template and none was given.
    case noTemplate(model: String)

    public var description: String {
        switch self {
        case let .invalidConversation(message): return "invalid conversation: \(message)"
        case let .templateFailed(message): return "chat template error: \(message)"
        case let .noTemplate(model):
            return "\(model) has no chat template; pass one with --template FILE (or use `loom run --raw`)"
        }
    }
}
