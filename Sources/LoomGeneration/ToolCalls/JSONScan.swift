import LoomJinja

/// The extent of a JSON value inside free text: what the tool-call parsers need to find a
/// call object that a model wrote among other words (JSON text out: ``JSONText``).
enum JSONScan {
    /// Parses `text` as one JSON document (surrounding whitespace allowed); nil if it is not one.
    static func parse<S: StringProtocol>(_ text: S) -> JSONValue? {
        try? JSONParser.parse(Array(text.utf8))
    }

    /// The end (exclusive) of the JSON object or array that starts at `start` in `bytes`:
    /// brackets are matched outside strings, escapes inside strings skipped. Nil when the
    /// value is not closed before the end of the text. The slice still has to be parsed; this
    /// only finds where a value a model wrote inside prose would end.
    static func endOfValue(in bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "{") || bytes[start] == UInt8(ascii: "[") else { return nil }
        var depth = 0
        var inString = false
        var escaped = false
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false }
                else if b == UInt8(ascii: "\\") { escaped = true }
                else if b == UInt8(ascii: "\"") { inString = false }
            } else {
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
            }
            i += 1
        }
        return nil
    }
}
