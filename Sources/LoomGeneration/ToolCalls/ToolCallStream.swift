/// Streams a reply's plain text at once while holding back whatever may be a tool call, so a
/// streaming client sees content as it is generated and calls only once they are whole.
///
/// Text is held from the first place a call could begin: a family marker (`<tool_call>`, or
/// a prefix of one at the end of the text so far) or, for families whose calls are bare JSON,
/// a reply that starts with `{` / `[` (or a listed tool's `name.call(` for Llama 3). Once a call has begun everything after it is held,
/// and ``finish()`` parses the whole reply.
///
/// ```swift
/// var stream = ToolCallStream(parser: parser)
/// for token in tokens { send(content: stream.append(token.text)) }
/// let end = stream.finish()   // remaining content + the calls
/// ```
public struct ToolCallStream: Sendable {
    public let parser: ToolCallParser
    /// The whole reply so far.
    public private(set) var text = ""
    /// How much of ``text`` (UTF-8 bytes) has been released as content.
    private var released = 0
    /// A call has begun: hold everything from here on.
    private var holding = false

    public init(parser: ToolCallParser) {
        self.parser = parser
    }

    /// Adds generated text; returns the content that is now safe to show (maybe empty).
    public mutating func append(_ piece: String) -> String {
        text += piece
        guard !holding else { return "" }
        let utf8 = Array(text.utf8)
        let pending = utf8[released...]
        // Bare JSON calls: decided by the reply's first non-space character.
        if released == 0 {
            let head = String(decoding: pending, as: UTF8.self).drop { $0.isWhitespace }
            guard let first = head.first else { return "" }
            if parser.format.startsAtReplyStart(first) {
                holding = true
                return ""
            }
            // Llama 3's built-in calls (`brave_search.call(…)`, its `<|python_tag|>` dropped
            // from the text): hold while the reply may still become one.
            if parser.format == .llama3, let names = parser.toolNames {
                for name in names {
                    let call = name + ".call("
                    if head.hasPrefix(call) {
                        holding = true
                        return ""
                    }
                    if call.hasPrefix(head) { return "" }
                }
            }
        }
        var safeEnd = utf8.count
        for marker in parser.format.markers {
            let m = Array(marker.utf8)
            if let start = Self.firstIndex(of: m, in: utf8, from: released) {
                holding = true
                safeEnd = min(safeEnd, start)
            } else {
                // The longest suffix that is a proper prefix of the marker may grow into it.
                for length in stride(from: min(m.count - 1, utf8.count - released), through: 1, by: -1)
                where utf8[(utf8.count - length)...].elementsEqual(m[..<length]) {
                    safeEnd = min(safeEnd, utf8.count - length)
                    break
                }
            }
        }
        // Never split a character: back up to a UTF-8 lead byte.
        while safeEnd > released, safeEnd < utf8.count, utf8[safeEnd] & 0xC0 == 0x80 { safeEnd -= 1 }
        guard safeEnd > released else { return "" }
        let out = String(decoding: utf8[released..<safeEnd], as: UTF8.self)
        released = safeEnd
        return out
    }

    /// Ends the reply: the content not yet released (the held text when it held no call) and
    /// the calls.
    public mutating func finish(makeID: () -> String) -> ToolCallParseResult {
        let utf8 = Array(text.utf8)
        let shown = String(decoding: utf8[..<released], as: UTF8.self)
        let held = String(decoding: utf8[released...], as: UTF8.self)
        released = utf8.count
        let parsed = parser.parse(text, makeID: makeID)
        guard !parsed.toolCalls.isEmpty else { return ToolCallParseResult(content: held, toolCalls: []) }
        // The parsed content starts with what was already shown (less trailing space).
        let shownCore = ToolCallParser.trim(Substring(shown))
        var rest = parsed.content
        if rest.hasPrefix(shownCore) { rest = String(rest.dropFirst(shownCore.count)) }
        if !shownCore.isEmpty, !rest.isEmpty, rest.first?.isWhitespace == false { rest = "\n" + rest }
        return ToolCallParseResult(content: rest, toolCalls: parsed.toolCalls)
    }

    /// ``finish(makeID:)`` with fresh ids in the family's style.
    public mutating func finish() -> ToolCallParseResult {
        let format = parser.format
        return finish(makeID: { format.makeCallID() })
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count - start else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
