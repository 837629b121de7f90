import LoomJinja

/// OpenAI's `tool_choice`: whether the model may, must, or must not call a tool.
public enum ToolChoice: Sendable, Equatable {
    /// No calls: the tools are not shown to the model and the reply is not parsed for calls.
    case none
    /// The model decides; its reply is parsed for calls.
    case auto
    /// The reply must be one or more calls (enforced by a grammar).
    case required
    /// The reply must call this function (enforced by a grammar).
    case function(String)

    /// Reads `tool_choice` (`"none"`, `"auto"`, `"required"` or
    /// `{"type": "function", "function": {"name": …}}`) and checks it against `tools`.
    /// Without the field the choice is `auto` when there are tools and `none` otherwise,
    /// as in OpenAI's API.
    /// - Throws: ``ToolCallError`` naming `tool_choice` or the part of it that is wrong.
    public static func parse(_ value: JSONValue?, tools: [ToolDefinition]) throws -> ToolChoice {
        guard let value else { return tools.isEmpty ? .none : .auto }
        if case .null = value { return tools.isEmpty ? .none : .auto }
        let choice: ToolChoice
        switch value {
        case .string("none"): choice = .none
        case .string("auto"): choice = .auto
        case .string("required"): choice = .required
        case let .string(other):
            throw ToolCallError(field: "tool_choice", "must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}, got \"\(other)\"")
        case let .object(object):
            guard case .string("function")? = object["type"] else {
                throw ToolCallError(field: "tool_choice.type", "must be \"function\"")
            }
            guard case let .object(function)? = object["function"], case let .string(name)? = function["name"] else {
                throw ToolCallError(field: "tool_choice.function.name", "is required (the function to call)")
            }
            guard tools.contains(where: { $0.name == name }) else {
                throw ToolCallError(field: "tool_choice.function.name", "'\(name)' is not one of the tools (\(tools.map(\.name).joined(separator: ", ")))")
            }
            choice = .function(name)
        default:
            throw ToolCallError(field: "tool_choice", "expected a string or an object, got \(value.kindDescription)")
        }
        if choice == .required && tools.isEmpty {
            throw ToolCallError(field: "tool_choice", "\"required\" needs at least one tool in tools")
        }
        return choice
    }

    /// A choice given as one word (a command-line flag): `none`, `auto`, `required`, or the
    /// name of the tool to call.
    /// - Throws: ``ToolCallError`` for a name that is not one of `tools`.
    public static func parse(word: String, tools: [ToolDefinition]) throws -> ToolChoice {
        if ["none", "auto", "required"].contains(word) { return try parse(.string(word), tools: tools) }
        return try parse(.object(["type": .string("function"), "function": .object(["name": .string(word)])]), tools: tools)
    }
}
