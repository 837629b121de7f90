/// Translates a JSON Schema `pattern` (an ECMA-262 regular expression, the simple part of
/// it) into a GBNF expression for the characters of a JSON string, as llama.cpp's
/// `_visit_pattern` does for its subset.
///
/// Supported: literals, `.`, classes `[a-z]` and `[^…]`, `\d \w \s` (in and out of classes),
/// escaped punctuation, groups `( … )` and `(?: … )`, alternation `|`, and the quantifiers
/// `* + ? {m} {m,} {m,n}` (a lazy `?` after one changes nothing here). A pattern matches
/// anywhere in the string, as in JSON Schema, unless anchored with `^` and `$`.
///
/// The generated strings are a subset of the pattern's language: they never contain a quote,
/// a backslash or a control character (which JSON would have to escape), and `\s` stands for
/// a space or tab. Anything else (backreferences, lookaround, `\b`, `\D`…) is an error.
struct PatternTranslator {
    private let pattern: [Unicode.Scalar]
    private let path: String
    private var pos = 0

    init(_ pattern: String, path: String) {
        self.pattern = Array(pattern.unicodeScalars)
        self.path = path
    }

    mutating func translate() throws -> String {
        var anchoredStart = false
        if pos < pattern.count, pattern[pos] == "^" {
            anchoredStart = true
            pos += 1
        }
        var end = pattern.count
        var anchoredEnd = false
        if end > pos, pattern[end - 1] == "$", end - 2 < 0 || pattern[end - 2] != "\\" {
            anchoredEnd = true
            end -= 1
        }
        let body = try alternatives(until: end)
        guard pos == end else { throw fail("unexpected ')'") }
        return (anchoredStart ? "" : "pattern-char* ") + "(" + body + ")" + (anchoredEnd ? "" : " pattern-char*")
    }

    private func fail(_ message: String) -> JSONSchemaError {
        JSONSchemaError(path: path, "'pattern' \(String(String.UnicodeScalarView(pattern))): \(message) (at character \(pos + 1))")
    }

    private mutating func alternatives(until end: Int) throws -> String {
        var options = [try sequence(until: end)]
        while pos < end, pattern[pos] == "|" {
            pos += 1
            options.append(try sequence(until: end))
        }
        return options.joined(separator: " | ")
    }

    private mutating func sequence(until end: Int) throws -> String {
        var items: [String] = []
        while pos < end, pattern[pos] != "|", pattern[pos] != ")" {
            var atom = try self.atom(until: end)
            if pos < end, let quantifier = try self.quantifier(until: end) {
                atom = "(" + atom + ")" + quantifier
            }
            items.append(atom)
        }
        // An empty alternative matches the empty string.
        return items.isEmpty ? "\"\"" : items.joined(separator: " ")
    }

    private mutating func quantifier(until end: Int) throws -> String? {
        let c = pattern[pos]
        var result: String
        switch c {
        case "*", "+", "?":
            pos += 1
            result = String(c)
        case "{":
            var close = pos + 1
            while close < end, pattern[close] != "}" { close += 1 }
            guard close < end else { throw fail("unterminated '{'") }
            let inner = String(String.UnicodeScalarView(pattern[(pos + 1)..<close]))
            let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count <= 2, let low = Int(parts[0]), low <= 1000,
                  parts.count == 1 || parts[1].isEmpty || (Int(parts[1]).map { $0 >= low && $0 <= 1000 } ?? false)
            else { throw fail("bad repetition '{\(inner)}'") }
            pos = close + 1
            result = "{" + inner + "}"
        default:
            return nil
        }
        if pos < end, pattern[pos] == "?" { pos += 1 }  // lazy: same language
        if pos < end, ["*", "+", "?", "{"].contains(pattern[pos]) { throw fail("repeated quantifier") }
        return result
    }

    private mutating func atom(until end: Int) throws -> String {
        let c = pattern[pos]
        switch c {
        case "(":
            pos += 1
            if pos + 1 < end, pattern[pos] == "?" {
                guard pattern[pos + 1] == ":" else { throw fail("lookaround and named groups are not supported") }
                pos += 2
            }
            let inner = try alternatives(until: end)
            guard pos < end, pattern[pos] == ")" else { throw fail("unclosed '('") }
            pos += 1
            return "(" + inner + ")"
        case "[":
            return try characterClass(until: end)
        case ".":
            pos += 1
            return "pattern-char"
        case "\\":
            pos += 1
            guard pos < end else { throw fail("pattern ends with '\\'") }
            let e = pattern[pos]
            pos += 1
            if let shorthand = Self.shorthand(e) { return "[" + shorthand + "]" }
            guard Self.isPunctuation(e) else { throw fail("unsupported escape '\\\(e)'") }
            return try literal(e)
        case "*", "+", "?", "{":
            throw fail("'\(c)' has nothing to repeat")
        case "^", "$":
            throw fail("'\(c)' is only supported at the start/end of the pattern")
        default:
            pos += 1
            return try literal(c)
        }
    }

    private func literal(_ c: Unicode.Scalar) throws -> String {
        guard c != "\"", c != "\\", c.value >= 0x20, c.value != 0x7F else {
            throw fail("a quote, backslash or control character in a pattern is not supported")
        }
        return JSONSchemaCompiler.literal(String(c))
    }

    /// Class contents (GBNF class syntax) of `\d`, `\w`, `\s`.
    private static func shorthand(_ c: Unicode.Scalar) -> String? {
        switch c {
        case "d": return "0-9"
        case "w": return "a-zA-Z0-9_"
        case "s": return " \\t"
        default: return nil
        }
    }

    private static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        "^$\\.*+?()[]{}|/-".unicodeScalars.contains(c)
    }

    /// A class item as GBNF class text (escaped where GBNF needs it).
    private func classCharacter(_ c: Unicode.Scalar) -> String {
        switch c {
        case "]", "[", "\\", "-", "^", "\"": return "\\" + String(c)
        default: return String(c)
        }
    }

    private mutating func characterClass(until end: Int) throws -> String {
        pos += 1
        var negated = false
        if pos < end, pattern[pos] == "^" {
            negated = true
            pos += 1
        }
        var items = ""
        var first = true
        while pos < end, pattern[pos] != "]" || first {
            first = false
            var c = pattern[pos]
            pos += 1
            if c == "\\" {
                guard pos < end else { throw fail("unterminated class") }
                let e = pattern[pos]
                pos += 1
                if let shorthand = Self.shorthand(e) {
                    items += shorthand
                    continue
                }
                guard Self.isPunctuation(e) else { throw fail("unsupported escape '\\\(e)' in a class") }
                c = e
            }
            var upper: Unicode.Scalar?
            if pos + 1 < end, pattern[pos] == "-", pattern[pos + 1] != "]" {
                var u = pattern[pos + 1]
                pos += 2
                if u == "\\" {
                    guard pos < end else { throw fail("unterminated class") }
                    u = pattern[pos]
                    pos += 1
                }
                guard u.value >= c.value else { throw fail("reversed range in a class") }
                upper = u
            }
            let lowValue = c.value
            let highValue = upper?.value ?? c.value
            if !negated {
                // A positive class drops what a JSON string would have to escape (a subset).
                for (a, b) in Self.subtractEscaped(lowValue, highValue) {
                    items += classCharacter(Unicode.Scalar(a)!) + (a == b ? "" : "-" + classCharacter(Unicode.Scalar(b)!))
                }
            } else {
                items += classCharacter(c) + (upper.map { "-" + classCharacter($0) } ?? "")
            }
        }
        guard pos < end else { throw fail("unterminated class") }
        pos += 1
        if negated {
            return #"[^"# + items + #"\"\\\x7F\x00-\x1F]"#
        }
        guard !items.isEmpty else { throw fail("the class has no character a JSON string can hold unescaped") }
        return "[" + items + "]"
    }

    /// The range `low...high` without control characters, `"` (0x22), `\` (0x5C) and DEL.
    private static func subtractEscaped(_ low: UInt32, _ high: UInt32) -> [(UInt32, UInt32)] {
        var ranges: [(UInt32, UInt32)] = [(low, high)]
        for (a, b) in [(UInt32(0), UInt32(0x1F)), (0x22, 0x22), (0x5C, 0x5C), (0x7F, 0x7F), (0xD800, 0xDFFF)] {
            ranges = ranges.flatMap { (l, h) -> [(UInt32, UInt32)] in
                if h < a || l > b { return [(l, h)] }
                var parts: [(UInt32, UInt32)] = []
                if l < a { parts.append((l, a - 1)) }
                if h > b { parts.append((b + 1, h)) }
                return parts
            }
        }
        return ranges
    }
}
