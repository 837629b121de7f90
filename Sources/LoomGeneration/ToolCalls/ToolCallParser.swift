import Foundation
import LoomJinja

/// Reads the tool calls out of a model's reply, in the syntax of its family
/// (``ToolCallFormat``), after llama.cpp's parsers in `common/chat.cpp`.
///
/// ```swift
/// let parser = ToolCallParser(format: .detect(chatTemplate: formatter.templateSource), tools: tools)
/// let reply = parser.parse(result.text)
/// for call in reply.toolCalls { print(call.name, call.arguments) }
/// ```
///
/// Parsing never fails: a call that is not well-formed JSON, lacks a name, or has arguments
/// that are not an object is left in ``ToolCallParseResult/content`` as written. Bare JSON
/// replies (Llama 3, Mistral without its control token, the generic format) only count as
/// calls when every name is one of `tools`, so that a JSON answer is not mistaken for a call.
public struct ToolCallParser: Sendable {
    public let format: ToolCallFormat
    /// Names of the tools offered; nil accepts any name.
    public let toolNames: Set<String>?
    /// At most this many calls are taken (OpenAI's `parallel_tool_calls: false` is 1); later
    /// ones stay in the content.
    public let maximumCalls: Int

    public init(format: ToolCallFormat, tools: [ToolDefinition]? = nil, maximumCalls: Int = .max) {
        self.format = format
        toolNames = tools.map { Set($0.map(\.name)) }
        self.maximumCalls = max(1, maximumCalls)
    }

    /// Splits `text` into content and calls; calls get ids from `makeID` unless the model
    /// wrote one.
    public func parse(_ text: String, makeID: () -> String) -> ToolCallParseResult {
        let found: ToolCallParseResult?
        switch format {
        case .hermes: found = parseTagged(text, open: "<tool_call>", close: "</tool_call>", makeID: makeID)
        case .llama3: found = parseLlama3(text, makeID: makeID)
        case .mistral: found = parseMistral(text, makeID: makeID)
        case .generic: found = parseGeneric(text, makeID: makeID)
        }
        return found ?? ToolCallParseResult(content: Self.trim(Substring(text)), toolCalls: [])
    }

    /// ``parse(_:makeID:)`` with fresh ids in the family's style.
    public func parse(_ text: String) -> ToolCallParseResult {
        parse(text, makeID: { format.makeCallID() })
    }

    // MARK: - Families

    /// Hermes / Qwen2.5: `<tool_call>{…}</tool_call>` blocks anywhere in the reply (the closing
    /// tag may be missing at the very end, where generation stopped on the end token).
    private func parseTagged(_ text: String, open: String, close: String, makeID: () -> String) -> ToolCallParseResult? {
        var content = ""
        var calls: [ChatMessage.ToolCall] = []
        var rest = Substring(text)
        while let start = rest.range(of: open) {
            let inner: Substring
            let blockEnd: Substring.Index
            if let end = rest[start.upperBound...].range(of: close) {
                inner = rest[start.upperBound..<end.lowerBound]
                blockEnd = end.upperBound
            } else {
                inner = rest[start.upperBound...]
                blockEnd = rest.endIndex
            }
            if calls.count < maximumCalls, let value = JSONScan.parse(inner),
               let call = Self.call(from: value, argumentsKeys: ["arguments", "parameters"], makeID: makeID) {
                content += rest[..<start.lowerBound]
                calls.append(call)
            } else {
                // Not a call after all (or one too many): keep the block as text.
                content += rest[..<blockEnd]
            }
            rest = rest[blockEnd...]
        }
        guard !calls.isEmpty else { return nil }
        content += rest
        return ToolCallParseResult(content: Self.trim(Substring(content)), toolCalls: calls)
    }

    /// Llama 3.1/3.2: the reply is one `{"name", "parameters"}` object (Llama 3.2 sometimes
    /// writes several separated by `;`), or after `<|python_tag|>` a built-in tool call
    /// `name.call(arg="…", …)`.
    private func parseLlama3(_ text: String, makeID: () -> String) -> ToolCallParseResult? {
        var body = Substring(text).drop { $0.isWhitespace }
        let tagged = body.hasPrefix("<|python_tag|>")
        if tagged { body = body.dropFirst("<|python_tag|>".count).drop { $0.isWhitespace } }
        if body.hasPrefix("{"), let calls = jsonCalls(body, separators: [";"], makeID: makeID) {
            return ToolCallParseResult(content: "", toolCalls: calls)
        }
        if let call = builtinCall(body, tagged: tagged, makeID: makeID) {
            return ToolCallParseResult(content: "", toolCalls: [call])
        }
        return nil
    }

    /// Mistral: `[TOOL_CALLS]` then a JSON array of calls; text before the marker is content.
    /// Generation output drops the control token, so a reply that is only such an array
    /// counts too.
    private func parseMistral(_ text: String, makeID: () -> String) -> ToolCallParseResult? {
        let marker = "[TOOL_CALLS]"
        let before: Substring
        var body: Substring
        if let range = text.range(of: marker) {
            before = text[..<range.lowerBound]
            body = text[range.upperBound...]
        } else {
            before = ""
            body = Substring(text)
            guard toolNames != nil else { return nil }
        }
        body = body.drop { $0.isWhitespace }
        let bytes = Array(body.utf8)
        guard let end = JSONScan.endOfValue(in: bytes, from: 0),
              case let .array(items)? = JSONScan.parse(String(decoding: bytes[..<end], as: UTF8.self)),
              !items.isEmpty, items.count <= maximumCalls else { return nil }
        var calls: [ChatMessage.ToolCall] = []
        for item in items {
            guard let call = Self.call(from: item, argumentsKeys: ["arguments", "parameters"], makeID: makeID),
                  isKnown(call.name) || text.contains(marker) else { return nil }
            calls.append(call)
        }
        let after = String(decoding: bytes[end...], as: UTF8.self)
        return ToolCallParseResult(content: Self.trim(Substring(String(before) + after)), toolCalls: calls)
    }

    /// The generic JSON fallback: the whole reply (fences allowed) is a call object, an array
    /// of them, `{"tool_calls": […]}` or `{"tool_call": {…}}`; `{"response": "…"}` is content.
    private func parseGeneric(_ text: String, makeID: () -> String) -> ToolCallParseResult? {
        var body = Substring(Self.trim(Substring(text)))
        if body.hasPrefix("```") {
            guard let newline = body.firstIndex(of: "\n"), body.hasSuffix("```"), body.count > 6 else { return nil }
            body = body[body.index(after: newline)..<body.index(body.endIndex, offsetBy: -3)]
        }
        guard let value = JSONScan.parse(body) else { return nil }
        var items: [JSONValue]
        switch value {
        case let .array(list): items = list
        case let .object(object):
            if case let .array(list)? = object["tool_calls"] { items = list }
            else if let one = object["tool_call"] { items = [one] }
            else if case let .string(response)? = object["response"], object.count == 1 {
                return ToolCallParseResult(content: response, toolCalls: [])
            } else { items = [value] }
        default: return nil
        }
        guard !items.isEmpty, items.count <= maximumCalls else { return nil }
        var calls: [ChatMessage.ToolCall] = []
        for item in items {
            guard let call = Self.call(from: item, argumentsKeys: ["arguments", "parameters"], makeID: makeID),
                  isKnown(call.name) else { return nil }
            calls.append(call)
        }
        return ToolCallParseResult(content: "", toolCalls: calls)
    }

    // MARK: - Pieces

    private func isKnown(_ name: String) -> Bool { toolNames?.contains(name) ?? true }

    /// JSON call objects filling all of `body`, separated by whitespace or `separators`;
    /// nil unless every one is a call to a known tool.
    private func jsonCalls(_ body: Substring, separators: Set<Character>, makeID: () -> String) -> [ChatMessage.ToolCall]? {
        let bytes = Array(body.utf8)
        var calls: [ChatMessage.ToolCall] = []
        var i = 0
        while i < bytes.count {
            let c = Character(Unicode.Scalar(bytes[i]))
            if c.isWhitespace || separators.contains(c) { i += 1; continue }
            guard let end = JSONScan.endOfValue(in: bytes, from: i),
                  let value = JSONScan.parse(String(decoding: bytes[i..<end], as: UTF8.self)),
                  let call = Self.call(from: value, argumentsKeys: [format.argumentsKey, "arguments"], makeID: makeID),
                  isKnown(call.name), calls.count < maximumCalls else { return nil }
            calls.append(call)
            i = end
        }
        return calls.isEmpty ? nil : calls
    }

    /// Llama 3.1's built-in tool syntax, `brave_search.call(query="…")`: each argument a JSON
    /// value (llama.cpp's `builtin_call_regex`). Without the `<|python_tag|>` marker (dropped
    /// from generated text) the name must be one of the tools.
    private func builtinCall(_ body: Substring, tagged: Bool, makeID: () -> String) -> ChatMessage.ToolCall? {
        let trimmed = Substring(Self.trim(body))
        guard let dot = trimmed.range(of: ".call("), trimmed.hasSuffix(")") else { return nil }
        let name = String(trimmed[..<dot.lowerBound])
        // Untagged, only a listed tool's name counts (plain text may look like this too).
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }),
              toolNames?.contains(name) ?? tagged else { return nil }
        let inside = trimmed[dot.upperBound..<trimmed.index(before: trimmed.endIndex)]
        // Arguments: `key=value` pairs split at top-level commas (values are JSON).
        var arguments = JSONObject()
        let bytes = Array(inside.utf8)
        var i = 0
        while i < bytes.count {
            while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: ",") { i += 1 }
            guard i < bytes.count else { break }
            guard let equals = bytes[i...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let key = String(decoding: bytes[i..<equals], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { return nil }
            var j = equals + 1
            while j < bytes.count, bytes[j] == UInt8(ascii: " ") { j += 1 }
            let end = Self.endOfScalarOrValue(bytes, from: j)
            guard let value = JSONScan.parse(String(decoding: bytes[j..<end], as: UTF8.self)) else { return nil }
            arguments[key] = value
            i = end
        }
        return ChatMessage.ToolCall(id: makeID(), name: name, arguments: JSONText.serialize(.object(arguments)))
    }

    /// Where a JSON value starting at `start` ends: a string, object or array by matching, a
    /// number or literal at the next top-level comma.
    private static func endOfScalarOrValue(_ bytes: [UInt8], from start: Int) -> Int {
        guard start < bytes.count else { return start }
        if let end = JSONScan.endOfValue(in: bytes, from: start) { return end }
        if bytes[start] == UInt8(ascii: "\"") {
            var i = start + 1
            var escaped = false
            while i < bytes.count {
                if escaped { escaped = false }
                else if bytes[i] == UInt8(ascii: "\\") { escaped = true }
                else if bytes[i] == UInt8(ascii: "\"") { return i + 1 }
                i += 1
            }
            return bytes.count
        }
        return bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
    }

    /// A call from a parsed object: `{"name", "arguments" | "parameters", "id"?}`, or OpenAI's
    /// own `{"type": "function", "function": {…}, "id"}`. Arguments must be an object, or a
    /// string holding one (some models double-encode); they come out as compact JSON text.
    static func call(from value: JSONValue, argumentsKeys: [String], makeID: () -> String) -> ChatMessage.ToolCall? {
        guard case var .object(object) = value else { return nil }
        var id: String?
        if case let .string(given)? = object["id"], !given.isEmpty { id = given }
        if case let .object(function)? = object["function"] { object = function }
        guard case let .string(name)? = object["name"], !name.isEmpty else { return nil }
        var arguments = "{}"
        if let key = argumentsKeys.first(where: { object[$0] != nil }) {
            switch object[key]! {
            case let .object(members): arguments = JSONText.serialize(.object(members))
            case let .string(text):
                guard case let .object(members)? = JSONScan.parse(text) else { return nil }
                arguments = JSONText.serialize(.object(members))
            case .null: break
            default: return nil
            }
        }
        return ChatMessage.ToolCall(id: id ?? makeID(), name: name, arguments: arguments)
    }

    static func trim(_ text: Substring) -> String {
        String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
