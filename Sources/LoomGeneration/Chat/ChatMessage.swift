import Foundation
import LoomJinja

/// One message of a conversation, in the shape chat templates and OpenAI's API share.
///
/// ```swift
/// let conversation: [ChatMessage] = [.system("You are terse."), .user("What is a blockchain?")]
/// ```
public struct ChatMessage: Sendable, Equatable, Codable {
    /// A function call the assistant made (OpenAI's `tool_calls[i]`).
    public struct ToolCall: Sendable, Equatable, Codable {
        public var id: String?
        public var name: String
        /// The call's arguments as JSON text, as OpenAI sends them. Templates receive them
        /// parsed into an object when the text is a JSON object (what HF templates expect).
        public var arguments: String

        public init(id: String? = nil, name: String, arguments: String) {
            self.id = id
            self.name = name
            self.arguments = arguments
        }
    }

    /// `system`, `user`, `assistant` or `tool` (templates may accept others).
    public var role: String
    public var content: String?
    public var toolCalls: [ToolCall]?
    /// For `tool` messages: the id of the call this answers.
    public var toolCallID: String?
    /// For `tool` messages: the function's name (some templates print it).
    public var name: String?

    public init(role: String, content: String?, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil, name: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: "system", content: text) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: "user", content: text) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: "assistant", content: text) }

    enum CodingKeys: String, CodingKey {
        case role, content, name
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    /// The message as chat templates see it (same fields as ``templateObject``; tool-call
    /// arguments keep their key order).
    public var jinjaValue: JinjaValue {
        var fields: [(String, JinjaValue)] = [("role", .string(role)), ("content", content.map(JinjaValue.string) ?? .null)]
        if let toolCalls {
            fields.append(("tool_calls", .array(toolCalls.map { call in
                let arguments: JinjaValue
                if let parsed = try? JinjaValue(jsonString: call.arguments), case .object = parsed {
                    arguments = parsed
                } else {
                    arguments = .string(call.arguments)
                }
                var entry: [(String, JinjaValue)] = []
                if let id = call.id { entry.append(("id", .string(id))) }
                entry.append(("type", "function"))
                entry.append(("function", .object([("name", .string(call.name)), ("arguments", arguments)])))
                return .object(entry)
            })))
        }
        if let toolCallID { fields.append(("tool_call_id", .string(toolCallID))) }
        if let name { fields.append(("name", .string(name))) }
        return .object(fields)
    }

    /// The message as a JSON object the way HF chat templates see it: `role`, `content`,
    /// and where present `tool_calls` (`{"type": "function", "function": {"name",
    /// "arguments"}}` with arguments parsed), `tool_call_id` and `name`.
    public var templateObject: [String: Any] {
        var object: [String: Any] = ["role": role]
        object["content"] = content ?? NSNull()
        if let toolCalls {
            object["tool_calls"] = toolCalls.map { call -> [String: Any] in
                var function: [String: Any] = ["name": call.name]
                if let data = call.arguments.data(using: .utf8),
                   let parsed = try? JSONSerialization.jsonObject(with: data), parsed is [String: Any] {
                    function["arguments"] = parsed
                } else {
                    function["arguments"] = call.arguments
                }
                var entry: [String: Any] = ["type": "function", "function": function]
                if let id = call.id { entry["id"] = id }
                return entry
            }
        }
        if let toolCallID { object["tool_call_id"] = toolCallID }
        if let name { object["name"] = name }
        return object
    }
}

extension ChatMessage {
    /// Reads a conversation from JSON: either an array of messages or an object with a
    /// `messages` array (OpenAI's request shape). Tool-call arguments may be a JSON string
    /// (OpenAI) or an object (HF).
    /// - Throws: ``ChatError/invalidConversation(_:)`` naming what is wrong.
    public static func conversation(fromJSON data: Data) throws -> [ChatMessage] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw ChatError.invalidConversation("not valid JSON (\((error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"))")
        }
        let list: [Any]
        if let array = root as? [Any] {
            list = array
        } else if let object = root as? [String: Any], let messages = object["messages"] as? [Any] {
            list = messages
        } else {
            throw ChatError.invalidConversation("expected an array of messages or an object with a \"messages\" array")
        }
        return try list.enumerated().map { index, item in
            guard let object = item as? [String: Any] else {
                throw ChatError.invalidConversation("messages[\(index)]: expected an object")
            }
            return try ChatMessage(jsonObject: object, path: "messages[\(index)]")
        }
    }

    init(jsonObject object: [String: Any], path: String) throws {
        guard let role = object["role"] as? String else {
            throw ChatError.invalidConversation("\(path).role: expected a string")
        }
        var content: String?
        switch object["content"] {
        case nil, is NSNull: content = nil
        case let text as String: content = text
        case let parts as [Any]:
            // OpenAI's content parts: only text parts can be given to a text model.
            content = try parts.enumerated().map { i, part -> String in
                guard let part = part as? [String: Any], part["type"] as? String == "text",
                      let text = part["text"] as? String else {
                    throw ChatError.invalidConversation("\(path).content[\(i)]: only {\"type\": \"text\", \"text\": …} parts are supported")
                }
                return text
            }.joined()
        default:
            throw ChatError.invalidConversation("\(path).content: expected a string, an array of text parts or null")
        }
        var calls: [ToolCall]?
        if let raw = object["tool_calls"], !(raw is NSNull) {
            guard let list = raw as? [Any] else { throw ChatError.invalidConversation("\(path).tool_calls: expected an array") }
            calls = try list.enumerated().map { i, entry in
                let where_ = "\(path).tool_calls[\(i)]"
                guard let entry = entry as? [String: Any] else { throw ChatError.invalidConversation("\(where_): expected an object") }
                let function = (entry["function"] as? [String: Any]) ?? entry
                guard let name = function["name"] as? String else {
                    throw ChatError.invalidConversation("\(where_).function.name: expected a string")
                }
                let arguments: String
                switch function["arguments"] {
                case nil, is NSNull: arguments = "{}"
                case let text as String: arguments = text
                case let value?:
                    guard JSONSerialization.isValidJSONObject(value),
                          let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
                        throw ChatError.invalidConversation("\(where_).function.arguments: expected a JSON string or object")
                    }
                    arguments = String(decoding: data, as: UTF8.self)
                }
                return ToolCall(id: entry["id"] as? String, name: name, arguments: arguments)
            }
        }
        func optionalString(_ key: String) throws -> String? {
            switch object[key] {
            case nil, is NSNull: return nil
            case let s as String: return s
            default: throw ChatError.invalidConversation("\(path).\(key): expected a string")
            }
        }
        self.init(role: role, content: content, toolCalls: calls,
                  toolCallID: try optionalString("tool_call_id"), name: try optionalString("name"))
    }
}
