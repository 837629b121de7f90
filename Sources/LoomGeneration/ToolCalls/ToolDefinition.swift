import Foundation
import LoomJinja

/// One function a model may call, in OpenAI's shape
/// (`{"type": "function", "function": {"name", "description", "parameters", "strict"}}`).
///
/// ```swift
/// let tools = try ToolDefinition.list(fromJSON: Data(contentsOf: url))
/// let prompt = try formatter.render(conversation, tools: ToolDefinition.templateJSON(tools))
/// ```
public struct ToolDefinition: Sendable {
    public let name: String
    public let description: String?
    /// The JSON Schema of the arguments object (`{"type": "object"}` when none was given).
    public let parameters: JSONValue
    /// The definition as given, for the chat template.
    public let original: JSONValue

    /// Reads a JSON array of tool definitions.
    /// - Throws: ``ToolCallError`` naming the field (`tools[2].function.name`) of the first problem.
    public static func list(fromJSON data: Data) throws -> [ToolDefinition] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(data))
        } catch {
            throw ToolCallError(field: "tools", "not valid JSON (\(error))")
        }
        return try list(from: value)
    }

    /// Checks a parsed `tools` array: every entry a function with a valid name (OpenAI's rule:
    /// 1–64 characters of `a-z A-Z 0-9 _ -`), names unique, `parameters` an object schema.
    /// - Throws: ``ToolCallError`` naming the field of the first problem.
    public static func list(from value: JSONValue) throws -> [ToolDefinition] {
        guard case let .array(items) = value else {
            throw ToolCallError(field: "tools", "expected an array of tool definitions, got \(value.kindDescription)")
        }
        var seen: Set<String> = []
        return try items.enumerated().map { index, item in
            let tool = try ToolDefinition(item, path: "tools[\(index)]")
            guard seen.insert(tool.name).inserted else {
                throw ToolCallError(field: "tools[\(index)].function.name", "'\(tool.name)' is defined twice")
            }
            return tool
        }
    }

    init(_ value: JSONValue, path: String) throws {
        guard case let .object(entry) = value else {
            throw ToolCallError(field: path, "expected an object {\"type\": \"function\", \"function\": {…}}, got \(value.kindDescription)")
        }
        switch entry["type"] {
        case .string("function"): break
        case nil: throw ToolCallError(field: "\(path).type", "is required (\"function\")")
        case let other?:
            throw ToolCallError(field: "\(path).type", "only \"function\" tools are supported, got \(JSONText.serialize(other))")
        }
        guard case let .object(function)? = entry["function"] else {
            throw ToolCallError(field: "\(path).function", "is required: an object with \"name\" and optionally \"description\" and \"parameters\"")
        }
        guard case let .string(name)? = function["name"] else {
            throw ToolCallError(field: "\(path).function.name", "is required (a string)")
        }
        guard (1...64).contains(name.count), name.unicodeScalars.allSatisfy(Self.isNameCharacter) else {
            throw ToolCallError(field: "\(path).function.name", "must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -, got \"\(name)\"")
        }
        switch function["description"] {
        case nil, .null?: description = nil
        case let .string(text)?: description = text
        case let other?: throw ToolCallError(field: "\(path).function.description", "expected a string, got \(other.kindDescription)")
        }
        switch function["parameters"] {
        case nil, .null?: parameters = .object(["type": .string("object")])
        case let .object(schema)?: parameters = .object(schema)
        case let other?: throw ToolCallError(field: "\(path).function.parameters", "expected a JSON Schema object, got \(other.kindDescription)")
        }
        switch function["strict"] {
        case nil, .null?, .bool?: break
        case let other?: throw ToolCallError(field: "\(path).function.strict", "expected a bool, got \(other.kindDescription)")
        }
        self.name = name
        original = value
    }

    private static func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
    }

    /// The definitions as the JSON array chat templates receive (`tools`).
    public static func templateJSON(_ tools: [ToolDefinition]) -> Data {
        Data(JSONText.serialize(.array(tools.map(\.original))).utf8)
    }
}
