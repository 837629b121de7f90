/// Parses GBNF text into rules of ``GrammarElement``s, following llama.cpp's
/// `llama_grammar_parser` (`src/llama-grammar.cpp`) and its format description
/// (`grammars/README.md`):
///
/// - `name ::= alternatives` per rule; a rule ends at a newline outside parentheses;
/// - alternatives `a | b`, sequences, groups `( ... )` (newlines allowed inside);
/// - terminals: `"literal"`, classes `[a-z_]`, negated classes `[^"\\]`, any character `.`;
/// - escapes `\n \r \t \\ \" \[ \] \-`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`;
/// - repetition `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` (rewritten into helper rules as llama.cpp does);
/// - comments from `#` to the end of the line.
///
/// Rule names are letters, digits, `-` and `_`.
struct GrammarParser {
    struct Parsed {
        /// Rule ids by name, for every name defined or referenced.
        var ids: [String: Int] = [:]
        /// Rule bodies by id; an id without a body is referenced but undefined.
        var rules: [Int: [GrammarElement]] = [:]
        /// Where each rule was first referenced, for "undefined rule" errors.
        var firstReference: [Int: (Int, Int)] = [:]
    }

    private let text: [Unicode.Scalar]
    private var pos = 0
    private var out = Parsed()

    init(_ source: String) {
        text = Array(source.unicodeScalars)
    }

    mutating func parse() throws -> Parsed {
        skipSpace(newlines: true)
        if pos >= text.count { throw GrammarError("the grammar is empty (it needs at least a 'root' rule)") }
        while pos < text.count {
            try parseRule()
        }
        return out
    }

    // MARK: - Positions and errors

    private func location(_ at: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for i in 0..<min(at, text.count) {
            if text[i] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    private func error(_ message: String, at: Int? = nil) -> GrammarError {
        let (line, column) = location(at ?? pos)
        return GrammarError(line: line, column: column, message)
    }

    private var current: Unicode.Scalar? { pos < text.count ? text[pos] : nil }

    private func peek(_ offset: Int) -> Unicode.Scalar? {
        pos + offset < text.count ? text[pos + offset] : nil
    }

    private static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    /// Skips blanks and comments; newlines too when `newlines` (inside groups, between rules).
    private mutating func skipSpace(newlines: Bool) {
        while let c = current {
            if c == "#" {
                while let d = current, d != "\n", d != "\r" { pos += 1 }
            } else if c == " " || c == "\t" || (newlines && (c == "\n" || c == "\r")) {
                pos += 1
            } else {
                break
            }
        }
    }

    // MARK: - Symbols

    private mutating func symbolID(_ name: String) -> Int {
        if let id = out.ids[name] { return id }
        let id = out.ids.count
        out.ids[name] = id
        return id
    }

    /// A fresh id for a helper rule (group or repetition) of rule `base`.
    private mutating func generatedID(_ base: String) -> Int {
        var n = out.ids.count
        while out.ids["\(base)_\(n)"] != nil { n += 1 }
        return symbolID("\(base)_\(n)")
    }

    private mutating func parseName() throws -> String {
        let start = pos
        while let c = current, Self.isWordCharacter(c) { pos += 1 }
        guard pos > start else {
            throw error(current.map { "expected a rule name, found '\($0)'" } ?? "expected a rule name, found the end")
        }
        return String(String.UnicodeScalarView(text[start..<pos]))
    }

    // MARK: - Rules

    private mutating func parseRule() throws {
        let nameStart = pos
        let name = try parseName()
        skipSpace(newlines: false)
        guard current == ":", peek(1) == ":", peek(2) == "=" else {
            throw error("expected '::=' after rule name '\(name)'")
        }
        pos += 3
        skipSpace(newlines: true)
        let id = symbolID(name)
        if out.rules[id] != nil {
            throw error("rule '\(name)' is defined twice", at: nameStart)
        }
        try parseAlternatives(ruleName: name, id: id, nested: false)
        if let c = current {
            guard c == "\n" || c == "\r" else { throw error("expected a newline or the end after a rule, found '\(c)'") }
            skipSpace(newlines: true)
        }
    }

    private mutating func parseAlternatives(ruleName: String, id: Int, nested: Bool) throws {
        var rule: [GrammarElement] = []
        try parseSequence(ruleName: ruleName, into: &rule, nested: nested)
        while current == "|" {
            rule.append(GrammarElement(.alternative))
            pos += 1
            skipSpace(newlines: true)
            try parseSequence(ruleName: ruleName, into: &rule, nested: nested)
        }
        rule.append(GrammarElement(.end))
        out.rules[id] = rule
    }

    private mutating func parseSequence(ruleName: String, into rule: inout [GrammarElement], nested: Bool) throws {
        let sequenceStart = rule.count
        var lastSymbolStart = rule.count
        while let c = current {
            if c == "\"" {
                pos += 1
                lastSymbolStart = rule.count
                while current != "\"" {
                    guard current != nil else { throw error("unterminated string literal") }
                    rule.append(GrammarElement(.character, try parseCharacter()))
                }
                pos += 1
                skipSpace(newlines: nested)
            } else if c == "[" {
                let classStart = pos
                pos += 1
                var startKind = GrammarElement.Kind.character
                if current == "^" {
                    pos += 1
                    startKind = .characterNot
                }
                lastSymbolStart = rule.count
                while current != "]" {
                    guard current != nil else { throw error("unterminated character class", at: classStart) }
                    let first = try parseCharacter()
                    rule.append(GrammarElement(lastSymbolStart < rule.count ? .characterAlternative : startKind, first))
                    if current == "-", let next = peek(1), next != "]" {
                        pos += 1
                        let last = try parseCharacter()
                        guard last >= first else {
                            throw error("character range is reversed (\(first) > \(last))", at: pos - 1)
                        }
                        rule.append(GrammarElement(.characterRangeUpper, last))
                    }
                }
                if lastSymbolStart == rule.count, startKind == .character {
                    throw error("empty character class '[]' matches nothing", at: classStart)
                }
                if lastSymbolStart == rule.count {
                    // `[^]`: any character.
                    rule.append(GrammarElement(.characterAny))
                }
                pos += 1
                skipSpace(newlines: nested)
            } else if Self.isWordCharacter(c) {
                let refStart = pos
                let name = try parseName()
                let id = symbolID(name)
                if out.firstReference[id] == nil { out.firstReference[id] = location(refStart) }
                skipSpace(newlines: nested)
                if current == ":" {
                    throw error("rule '\(name)' has no newline before it (and a rule body cannot be empty: write \"\" for the empty string)", at: refStart)
                }
                lastSymbolStart = rule.count
                rule.append(GrammarElement(.ruleReference, UInt32(id)))
            } else if c == "(" {
                let open = pos
                pos += 1
                skipSpace(newlines: true)
                let sub = generatedID(ruleName)
                try parseAlternatives(ruleName: ruleName, id: sub, nested: true)
                lastSymbolStart = rule.count
                rule.append(GrammarElement(.ruleReference, UInt32(sub)))
                guard current == ")" else { throw error("expected ')' to close the group opened here", at: open) }
                pos += 1
                skipSpace(newlines: nested)
            } else if c == "." {
                lastSymbolStart = rule.count
                rule.append(GrammarElement(.characterAny))
                pos += 1
                skipSpace(newlines: nested)
            } else if c == "*" || c == "+" || c == "?" {
                guard lastSymbolStart < rule.count, lastSymbolStart >= sequenceStart else {
                    throw error("'\(c)' must follow an item to repeat")
                }
                pos += 1
                let (low, high): (Int, Int?) = c == "*" ? (0, nil) : c == "+" ? (1, nil) : (0, 1)
                repeatLast(from: lastSymbolStart, in: &rule, min: low, max: high, ruleName: ruleName)
                skipSpace(newlines: nested)
            } else if c == "{" {
                guard lastSymbolStart < rule.count, lastSymbolStart >= sequenceStart else {
                    throw error("'{' must follow an item to repeat")
                }
                let open = pos
                pos += 1
                skipSpace(newlines: nested)
                let low = try parseInteger()
                skipSpace(newlines: nested)
                var high: Int? = low
                if current == "," {
                    pos += 1
                    skipSpace(newlines: nested)
                    if current == "}" {
                        high = nil
                    } else {
                        high = try parseInteger()
                    }
                    skipSpace(newlines: nested)
                }
                guard current == "}" else { throw error("expected '}' to close the repetition opened here", at: open) }
                if let high, high < low {
                    throw error("repetition {\(low),\(high)} has its maximum below its minimum", at: open)
                }
                pos += 1
                repeatLast(from: lastSymbolStart, in: &rule, min: low, max: high, ruleName: ruleName)
                skipSpace(newlines: nested)
            } else {
                break
            }
        }
    }

    private mutating func parseInteger() throws -> Int {
        let start = pos
        var value = 0
        while let c = current, c >= "0", c <= "9" {
            value = value * 10 + Int(c.value - 48)
            guard value <= 100_000 else { throw error("repetition count is too large (at most 100000)", at: start) }
            pos += 1
        }
        guard pos > start else { throw error("expected a number in the repetition") }
        return value
    }

    /// Reads one character of a literal or class, decoding escapes.
    private mutating func parseCharacter() throws -> UInt32 {
        guard let c = current else { throw error("unexpected end of the grammar") }
        if c != "\\" {
            pos += 1
            return c.value
        }
        let escapeStart = pos
        pos += 1
        guard let e = current else { throw error("unfinished escape at the end of the grammar") }
        pos += 1
        switch e {
        case "x": return try parseHex(digits: 2, escapeStart)
        case "u": return try parseHex(digits: 4, escapeStart)
        case "U": return try parseHex(digits: 8, escapeStart)
        case "t": return 9
        case "r": return 13
        case "n": return 10
        case "\\", "\"", "[", "]", "-", "/", "^": return e.value
        default: throw error("unknown escape '\\\(e)'", at: escapeStart)
        }
    }

    private mutating func parseHex(digits: Int, _ escapeStart: Int) throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let c = current, let digit = UInt32(String(c), radix: 16) else {
                throw error("expected \(digits) hex digits in this escape", at: escapeStart)
            }
            value = value << 4 | digit
            pos += 1
        }
        guard value <= 0x10FFFF else { throw error("escape is beyond U+10FFFF", at: escapeStart) }
        return value
    }

    /// Rewrites the item at `rule[start...]` repeated `min`...`max` times (nil: unbounded) the
    /// way llama.cpp's `handle_repetitions` does: `min` copies, then a chain of optional helper
    /// rules (`r ::= item r |` when unbounded), so the matcher needs no counters.
    private mutating func repeatLast(from start: Int, in rule: inout [GrammarElement], min: Int, max: Int?,
                                     ruleName: String) {
        let item = Array(rule[start...])
        if min == 0 { rule.removeSubrange(start...) }
        for _ in 1..<Swift.max(min, 1) { rule += item }
        let optional = max.map { $0 - min } ?? 1
        var lastHelper = 0
        for i in 0..<optional {
            let helper = generatedID(ruleName)
            var body = item
            if max == nil {
                body.append(GrammarElement(.ruleReference, UInt32(helper)))
            } else if i > 0 {
                body.append(GrammarElement(.ruleReference, UInt32(lastHelper)))
            }
            body.append(GrammarElement(.alternative))
            body.append(GrammarElement(.end))
            out.rules[helper] = body
            lastHelper = helper
        }
        if optional > 0 { rule.append(GrammarElement(.ruleReference, UInt32(lastHelper))) }
    }
}
