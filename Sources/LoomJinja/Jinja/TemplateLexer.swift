/// Splits a Jinja template into tokens with Hugging Face's environment settings:
/// `trim_blocks` (drop one newline after `%}` / `#}`), `lstrip_blocks` (drop spaces and tabs
/// before `{%` / `{#` on their own line), `keep_trailing_newline = False`, and `-` / `+`
/// whitespace control, following jinja2's `Lexer.tokeniter` rule by rule.
struct TemplateLexer {
    private let src: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var column = 1
    private var tokens: [TemplateToken] = []
    /// jinja2's `line_starting`: the previous match ended with a newline.
    private var lineStarting = true

    private enum TagKind { case variable, block, comment }

    static func tokenize(_ source: String) throws -> [TemplateToken] {
        var lexer = TemplateLexer(source: normalizeNewlines(source))
        try lexer.run()
        return lexer.tokens
    }

    /// jinja2 turns `\r\n` and `\r` into `\n` and drops one trailing newline.
    static func normalizeNewlines(_ source: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(source.unicodeScalars.count)
        var it = source.unicodeScalars.makeIterator()
        var pending = it.next()
        while let c = pending {
            pending = it.next()
            if c == "\r" {
                out.append("\n")
                if pending == "\n" { pending = it.next() }
            } else {
                out.append(c)
            }
        }
        if out.last == "\n" { out.removeLast() }
        return out
    }

    private init(source: [Unicode.Scalar]) { src = source }

    // MARK: - Position bookkeeping

    private var here: SourceLocation { SourceLocation(line: line, column: column) }

    private mutating func advance(to newPos: Int) {
        while pos < newPos {
            if src[pos] == "\n" { line += 1; column = 1 } else { column += 1 }
            pos += 1
        }
    }

    private func matches(_ s: String, at i: Int) -> Bool {
        var j = i
        for c in s.unicodeScalars {
            guard j < src.count, src[j] == c else { return false }
            j += 1
        }
        return true
    }

    private func error(_ message: String, at loc: SourceLocation? = nil) -> TemplateError {
        TemplateError(.syntax, message, at: loc ?? here)
    }

    // MARK: - Root state

    private mutating func run() throws {
        while pos < src.count {
            // Find the next tag opener.
            var i = pos
            var found: (start: Int, kind: TagKind)?
            while i + 1 < src.count {
                if src[i] == "{" {
                    let n = src[i + 1]
                    if n == "{" { found = (i, .variable); break }
                    if n == "%" { found = (i, .block); break }
                    if n == "#" { found = (i, .comment); break }
                }
                i += 1
            }
            guard let (start, kind) = found else {
                emitText(src[pos...], at: here)
                advance(to: src.count)
                break
            }
            let signIndex = start + 2
            let sign: Unicode.Scalar? = signIndex < src.count && (src[signIndex] == "-" || src[signIndex] == "+") ? src[signIndex] : nil
            var text = src[pos..<start]
            if sign == "-" {
                var end = text.endIndex
                while end > text.startIndex && PythonText.isSpace(src[end - 1]) { end -= 1 }
                text = src[text.startIndex..<end]
            } else if sign != "+" && kind != .variable {
                // lstrip_blocks: strip whitespace between the last newline and the tag.
                let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
                if (lineStart > text.startIndex || lineStarting) && lineStart < text.endIndex
                    && src[lineStart..<text.endIndex].allSatisfy(PythonText.isSpace) {
                    text = src[text.startIndex..<lineStart]
                }
            }
            emitText(text, at: here)
            advance(to: start)
            let tagLocation = here
            if kind == .block, try lexRaw(start: start, sign: sign) { continue }
            advance(to: signIndex + (sign == nil ? 0 : 1))
            lineStarting = false
            switch kind {
            case .comment:
                try lexComment(opened: tagLocation)
            case .variable:
                tokens.append(TemplateToken(kind: .variableBegin, location: tagLocation))
                try lexTag(isBlock: false, opened: tagLocation)
            case .block:
                tokens.append(TemplateToken(kind: .blockBegin, location: tagLocation))
                try lexTag(isBlock: true, opened: tagLocation)
            }
        }
        tokens.append(TemplateToken(kind: .end, location: here))
    }

    private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>, at loc: SourceLocation) {
        guard !text.isEmpty else { return }
        tokens.append(TemplateToken(kind: .text(PythonText.string(scalars: text)), location: loc))
    }

    /// Consumes the end of a block or comment tag (`+%}`, `-%}` + whitespace, `%}` + one newline)
    /// when it starts at `pos`; returns false otherwise.
    private mutating func consumeBlockEnd(_ close: String) -> Bool {
        if matches("+" + close, at: pos) {
            advance(to: pos + 3)
            lineStarting = false
            return true
        }
        if matches("-" + close, at: pos) {
            var end = pos + 3
            while end < src.count && PythonText.isSpace(src[end]) { end += 1 }
            lineStarting = end > pos + 3 && src[end - 1] == "\n"
            advance(to: end)
            return true
        }
        if matches(close, at: pos) {
            var end = pos + 2
            if end < src.count && src[end] == "\n" { end += 1 }
            lineStarting = src[end - 1] == "\n"
            advance(to: end)
            return true
        }
        return false
    }

    private mutating func lexComment(opened: SourceLocation) throws {
        while pos < src.count {
            if consumeBlockEnd("#}") { return }
            advance(to: pos + 1)
        }
        throw error("missing end of comment tag '#}'", at: opened)
    }

    /// `{% raw %}…{% endraw %}`: everything in between is text.
    private mutating func lexRaw(start: Int, sign: Unicode.Scalar?) throws -> Bool {
        var i = start + 2 + (sign == nil ? 0 : 1)
        while i < src.count && PythonText.isSpace(src[i]) { i += 1 }
        guard matches("raw", at: i) else { return false }
        i += 3
        let afterWord = i
        while i < src.count && PythonText.isSpace(src[i]) { i += 1 }
        if i == afterWord && !matches("%}", at: i) && !matches("-%}", at: i) { return false }
        let opened = here
        if matches("-%}", at: i) {
            i += 3
            while i < src.count && PythonText.isSpace(src[i]) { i += 1 }
        } else if matches("%}", at: i) {
            i += 2
        } else {
            return false
        }
        advance(to: i)
        // Body up to `{%[-+]? endraw %}`.
        var j = pos
        while j + 1 < src.count {
            if src[j] == "{" && src[j + 1] == "%" {
                var k = j + 2
                let endSign: Unicode.Scalar? = k < src.count && (src[k] == "-" || src[k] == "+") ? src[k] : nil
                if endSign != nil { k += 1 }
                while k < src.count && PythonText.isSpace(src[k]) { k += 1 }
                if matches("endraw", at: k) {
                    var body = src[pos..<j]
                    if endSign == "-" {
                        var e = body.endIndex
                        while e > body.startIndex && PythonText.isSpace(src[e - 1]) { e -= 1 }
                        body = src[body.startIndex..<e]
                    } else if endSign != "+" {
                        let lineStart = (body.lastIndex(of: "\n").map { $0 + 1 }) ?? body.startIndex
                        if lineStart > body.startIndex && lineStart < body.endIndex
                            && src[lineStart..<body.endIndex].allSatisfy(PythonText.isSpace) {
                            body = src[body.startIndex..<lineStart]
                        }
                    }
                    emitText(body, at: here)
                    k += 6
                    while k < src.count && PythonText.isSpace(src[k]) { k += 1 }
                    advance(to: k)
                    if !consumeBlockEnd("%}") { throw error("expected '%}' after 'endraw'") }
                    return true
                }
            }
            j += 1
        }
        throw error("missing '{% endraw %}' for this raw block", at: opened)
    }

    // MARK: - Inside {{ }} and {% %}

    private mutating func lexTag(isBlock: Bool, opened: SourceLocation) throws {
        var brackets: [(close: Unicode.Scalar, at: SourceLocation)] = []
        while true {
            guard pos < src.count else {
                throw error("missing end of \(isBlock ? "block tag '%}'" : "expression tag '}}'")", at: opened)
            }
            if brackets.isEmpty {
                let endLocation = here
                if isBlock {
                    if consumeBlockEnd("%}") {
                        tokens.append(TemplateToken(kind: .blockEnd, location: endLocation))
                        return
                    }
                } else if matches("-}}", at: pos) {
                    var end = pos + 3
                    while end < src.count && PythonText.isSpace(src[end]) { end += 1 }
                    lineStarting = end > pos + 3 && src[end - 1] == "\n"
                    advance(to: end)
                    tokens.append(TemplateToken(kind: .variableEnd, location: endLocation))
                    return
                } else if matches("}}", at: pos) {
                    advance(to: pos + 2)
                    lineStarting = false
                    tokens.append(TemplateToken(kind: .variableEnd, location: endLocation))
                    return
                }
            }
            let c = src[pos]
            if PythonText.isSpace(c) { advance(to: pos + 1); continue }
            let loc = here
            if c.properties.numericType != nil && c.isASCII {
                try lexNumber(at: loc)
            } else if c == "_" || (c.isASCII && c.properties.isAlphabetic) {
                var e = pos + 1
                while e < src.count, src[e].isASCII, src[e] == "_" || src[e].properties.isAlphabetic || ("0"..."9").contains(src[e]) { e += 1 }
                let name = PythonText.string(scalars: src[pos..<e])
                advance(to: e)
                tokens.append(TemplateToken(kind: .name(name), location: loc))
            } else if c == "'" || c == "\"" {
                try lexString(quote: c, at: loc)
            } else {
                let op = try lexOperator(at: loc)
                switch op {
                case "(": brackets.append((")", loc))
                case "[": brackets.append(("]", loc))
                case "{": brackets.append(("}", loc))
                case ")", "]", "}":
                    guard let open = brackets.popLast() else { throw error("unexpected '\(op)'", at: loc) }
                    if String(open.close) != op { throw error("unexpected '\(op)', expected '\(open.close)'", at: loc) }
                default: break
                }
                tokens.append(TemplateToken(kind: .op(op), location: loc))
            }
        }
    }

    private static let operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                                    "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"]

    private mutating func lexOperator(at loc: SourceLocation) throws -> String {
        for op in Self.operators where matches(op, at: pos) {
            advance(to: pos + op.unicodeScalars.count)
            return op
        }
        throw error("unexpected character '\(src[pos])'", at: loc)
    }

    private func isDigit(_ i: Int) -> Bool { i < src.count && ("0"..."9").contains(src[i]) }

    /// Digits with optional single `_` separators (`(\d+_)*\d+`); returns the end index.
    private func digitRun(from i: Int) -> Int? {
        guard isDigit(i) else { return nil }
        var e = i
        while true {
            while isDigit(e) { e += 1 }
            if e < src.count && src[e] == "_" && isDigit(e + 1) { e += 1; continue }
            return e
        }
    }

    private mutating func lexNumber(at loc: SourceLocation) throws {
        let start = pos
        // Float: digits ( (.digits)? e[+-]digits | .digits ).
        if let intEnd = digitRun(from: start) {
            var e = intEnd
            var isFloat = false
            if e < src.count && src[e] == ".", let fracEnd = digitRun(from: e + 1) {
                e = fracEnd
                isFloat = true
            }
            if e < src.count && (src[e] == "e" || src[e] == "E") {
                var x = e + 1
                if x < src.count && (src[x] == "+" || src[x] == "-") { x += 1 }
                if let expEnd = digitRun(from: x) { e = expEnd; isFloat = true }
            }
            if isFloat {
                let text = PythonText.string(scalars: src[start..<e].filter { $0 != "_" })
                guard let value = Double(text) else { throw error("invalid float literal '\(text)'", at: loc) }
                advance(to: e)
                tokens.append(TemplateToken(kind: .float(value), location: loc))
                return
            }
        }
        // Integers: 0b / 0o / 0x prefixes, decimal without leading zeros.
        var radix = 10
        var digitsStart = start
        if src[start] == "0" && start + 1 < src.count {
            switch src[start + 1] {
            case "b", "B": radix = 2; digitsStart = start + 2
            case "o", "O": radix = 8; digitsStart = start + 2
            case "x", "X": radix = 16; digitsStart = start + 2
            default: break
            }
        }
        var e = digitsStart
        var digits = ""
        while e < src.count {
            let c = src[e]
            if c == "_" { e += 1; continue }
            guard c.isASCII, let v = Int(String(c), radix: radix), v >= 0 else { break }
            digits.unicodeScalars.append(c)
            e += 1
        }
        if radix == 10 && src[start] == "0" {
            // jinja2 lexes `0(_?0)*` only; "012" is the integer 0 followed by 12.
            e = start + 1
            while e < src.count && (src[e] == "0" || (src[e] == "_" && e + 1 < src.count && src[e + 1] == "0")) { e += 1 }
            digits = "0"
        }
        guard !digits.isEmpty, let value = Int(digits, radix: radix) else {
            // jinja2 has arbitrary-precision integers; Loom's are 64-bit.
            throw error(digits.isEmpty ? "invalid integer literal" : "integer literal does not fit in 64 bits", at: loc)
        }
        advance(to: e)
        tokens.append(TemplateToken(kind: .integer(value), location: loc))
    }

    /// A quoted string with Python `unicode-escape` decoding of backslash escapes.
    private mutating func lexString(quote: Unicode.Scalar, at loc: SourceLocation) throws {
        var i = pos + 1
        var out = String.UnicodeScalarView()
        while true {
            guard i < src.count else { throw error("unterminated string literal", at: loc) }
            let c = src[i]
            if c == quote { i += 1; break }
            if c != "\\" { out.append(c); i += 1; continue }
            guard i + 1 < src.count else { throw error("unterminated string literal", at: loc) }
            let e = src[i + 1]
            i += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = Int(e.value - 48)
                var k = 0
                while k < 2, i < src.count, ("0"..."7").contains(src[i]) { v = v * 8 + Int(src[i].value - 48); i += 1; k += 1 }
                out.append(Unicode.Scalar(UInt32(v))!)
            case "x", "u", "U":
                let n = e == "x" ? 2 : (e == "u" ? 4 : 8)
                guard i + n <= src.count,
                      let v = UInt32(PythonText.string(scalars: src[i..<i + n]), radix: 16),
                      let scalar = Unicode.Scalar(v) else {
                    throw error("invalid \\\(e) escape in string literal", at: loc)
                }
                out.append(scalar)
                i += n
            default:
                // Python keeps unknown escapes verbatim.
                out.append("\\")
                out.append(e)
            }
        }
        advance(to: i)
        tokens.append(TemplateToken(kind: .string(String(out)), location: loc))
    }
}
