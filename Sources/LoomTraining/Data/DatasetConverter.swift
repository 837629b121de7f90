import Foundation
import LoomGeneration
import LoomJinja

/// Turns one dataset record into a ``TrainingExample`` the way LLaMA-Factory's converters do
/// (`src/llamafactory/data/converter.py`, `AlpacaDatasetConverter` and
/// `SharegptDatasetConverter`), except that the roles become chat-template roles, because the
/// conversation is rendered with the model's own template rather than LLaMA-Factory's:
/// user → `user`, assistant → `assistant`, system → `system`, observation → `tool`,
/// function_call → an `assistant` message with `tool_calls`.
///
/// Records LLaMA-Factory would drop (a sharegpt turn out of alternation, an odd number of
/// turns, an alpaca record without an output) are errors here, so the user sees them.
public struct DatasetConverter: Sendable {
    public let format: DatasetFormat
    public let columns: DatasetColumns
    /// The dataset file, for `FILE: line N` in messages.
    public let path: String

    public init(format: DatasetFormat, columns: DatasetColumns? = nil, path: String) {
        self.format = format
        self.columns = columns ?? .defaults(for: format)
        self.path = path
    }

    /// The example of `record`.
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)`` naming the field.
    public func example(_ record: DatasetRecordReader.Record) throws -> TrainingExample {
        let source = "\(path): line \(record.line)"
        func bad(_ reason: String) -> TrainingError { .badRecord(path: path, line: record.line, reason: reason) }
        let object = record.object
        switch format {
        case .text:
            guard let text = try string(object, columns.text, bad), !text.isEmpty else {
                throw bad("missing or empty field \"\(columns.text)\"")
            }
            return TrainingExample(content: .text(text), source: source)
        case .alpaca:
            return TrainingExample(content: .conversation(try alpaca(object, bad)), source: source)
        case .sharegpt:
            return TrainingExample(content: .conversation(try sharegpt(object, bad)),
                                   tools: try tools(object, bad), source: source)
        case .openai:
            let messages: [ChatMessage]
            do {
                messages = try ChatMessage.conversation(fromJSON: Data(record.bytes))
            } catch let error as ChatError {
                if case .invalidConversation(let reason) = error { throw bad(reason) }
                throw bad("\(error)")
            }
            for (i, message) in messages.enumerated() where !["system", "user", "assistant", "tool"].contains(message.role) {
                throw bad("messages[\(i)].role: \"\(message.role)\" is not system, user, assistant or tool")
            }
            guard messages.contains(where: { $0.role == "assistant" }) else {
                throw bad("no assistant message to train on")
            }
            return TrainingExample(content: .conversation(messages), tools: try tools(object, bad), source: source)
        }
    }

    /// `history` pairs, then the instruction and input joined by a newline (LLaMA-Factory
    /// joins `[prompt, query]` with "\n", skipping empty ones), then the output.
    private func alpaca(_ object: JSONObject, _ bad: (String) -> TrainingError) throws -> [ChatMessage] {
        var messages: [ChatMessage] = []
        if let system = try string(object, columns.system, bad), !system.isEmpty { messages.append(.system(system)) }
        switch object[columns.history] {
        case nil, .null?: break
        case .array(let pairs)?:
            for (i, pair) in pairs.enumerated() {
                guard case .array(let parts) = pair, parts.count == 2,
                      case .string(let user) = parts[0], case .string(let assistant) = parts[1] else {
                    throw bad("\(columns.history)[\(i)]: expected a [instruction, response] pair of strings")
                }
                messages.append(.user(user))
                messages.append(.assistant(assistant))
            }
        case let other?:
            throw bad("field \"\(columns.history)\" must be an array of [instruction, response] pairs, got \(other.kindDescription)")
        }
        let query = [try string(object, columns.prompt, bad), try string(object, columns.query, bad)]
            .compactMap { $0 }.filter { !$0.isEmpty }
        guard !query.isEmpty else { throw bad("missing or empty field \"\(columns.prompt)\"") }
        guard let response = try string(object, columns.response, bad) else {
            throw bad("missing field \"\(columns.response)\"")
        }
        messages.append(.user(query.joined(separator: "\n")))
        messages.append(.assistant(response))
        return messages
    }

    /// LLaMA-Factory's alternation rule: after an optional leading system turn, turns 0, 2, …
    /// are user or observation and turns 1, 3, … assistant or function call, ending on the latter.
    private func sharegpt(_ object: JSONObject, _ bad: (String) -> TrainingError) throws -> [ChatMessage] {
        let key = columns.messages
        guard case .array(var turns)? = object[key] else {
            throw bad(object[key] == nil ? "missing field \"\(key)\"" : "field \"\(key)\" must be an array of turns")
        }
        var offset = 0
        var messages: [ChatMessage] = []
        func field(_ turn: JSONObject, _ name: String, _ index: Int) throws -> String {
            guard case .string(let value)? = turn[name] else {
                throw bad("\(key)[\(index)].\(name): " + (turn[name] == nil ? "missing" : "expected a string"))
            }
            return value
        }
        if case .object(let first)? = turns.first, case .string(columns.systemTag)? = first[columns.roleTag] {
            let system = try field(first, columns.contentTag, 0)
            if !system.isEmpty { messages.append(.system(system)) }
            turns.removeFirst()
            offset = 1
        } else if let system = try string(object, columns.system, bad), !system.isEmpty {
            messages.append(.system(system))
        }
        guard !turns.isEmpty else { throw bad("field \"\(key)\" has no turns") }
        for (position, turn) in turns.enumerated() {
            let index = position + offset
            guard case .object(let turn) = turn else { throw bad("\(key)[\(index)]: expected an object") }
            let role = try field(turn, columns.roleTag, index)
            let content = try field(turn, columns.contentTag, index)
            let expected = position % 2 == 0 ? [columns.userTag, columns.observationTag] : [columns.assistantTag, columns.functionTag]
            guard expected.contains(role) else {
                throw bad("\(key)[\(index)]: role \"\(role)\" where \(expected.joined(separator: " or ")) is expected (turns must alternate)")
            }
            switch role {
            case columns.userTag: messages.append(.user(content))
            case columns.assistantTag: messages.append(.assistant(content))
            case columns.observationTag: messages.append(ChatMessage(role: "tool", content: content))
            default: messages.append(ChatMessage(role: "assistant", content: nil, toolCalls: try toolCalls(content, "\(key)[\(index)]", bad)))
            }
        }
        guard turns.count % 2 == 0 else {
            throw bad("field \"\(key)\" ends on a \(columns.userTag)/\(columns.observationTag) turn; the last turn must be the \(columns.assistantTag)'s")
        }
        return messages
    }

    /// A function_call turn's value: `{"name", "arguments"}` or an array of them, as JSON text.
    private func toolCalls(_ text: String, _ where_: String, _ bad: (String) -> TrainingError) throws -> [ChatMessage.ToolCall] {
        guard let value = try? JSONParser.parse(Array(text.utf8)) else {
            throw bad("\(where_): a function call must be JSON {\"name\": …, \"arguments\": …}")
        }
        let calls: [JSONValue]
        if case .array(let list) = value { calls = list } else { calls = [value] }
        return try calls.map { call in
            guard case .object(let object) = call, case .string(let name)? = object["name"] else {
                throw bad("\(where_): a function call needs a \"name\" string")
            }
            let arguments: String
            switch object["arguments"] {
            case nil, .null?: arguments = "{}"
            case .string(let text)?: arguments = text
            case let other?: arguments = JSONText.serialize(other)
            }
            return ChatMessage.ToolCall(name: name, arguments: arguments)
        }
    }

    /// The `tools` column as JSON text of an array (LLaMA-Factory stores it as a string).
    private func tools(_ object: JSONObject, _ bad: (String) -> TrainingError) throws -> String? {
        switch object[columns.tools] {
        case nil, .null?: return nil
        case .string(let text)?:
            if text.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
            guard case .array? = try? JSONParser.parse(Array(text.utf8)) else {
                throw bad("field \"\(columns.tools)\" must be a JSON array of tool definitions")
            }
            return text
        case .array(let list)?:
            return JSONText.serialize(.array(list))
        case let other?:
            throw bad("field \"\(columns.tools)\" must be a JSON array of tool definitions, got \(other.kindDescription)")
        }
    }

    /// A string field, nil when absent or null.
    private func string(_ object: JSONObject, _ key: String, _ bad: (String) -> TrainingError) throws -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw bad("field \"\(key)\" must be a string, got \(other.kindDescription)")
        }
    }
}
