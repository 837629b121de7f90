/// A tool definition or tool choice that cannot be used, naming the field in OpenAI's
/// request shape (`tools[1].function.name`, `tool_choice`) so a server can answer 400 with it.
public struct ToolCallError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The offending field, e.g. `tools[0].function.parameters.properties.city`.
    public let field: String
    public let message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
