/// Python's `str()`, `repr()` and `json.dumps()` of template values, byte for byte.
enum PythonFormat {
    /// `str(value)` as jinja2 prints it (Undefined prints as the empty string); throws a
    /// `RuntimeFailure` instead of building more than `limit` bytes.
    static func str(_ v: TemplateValue, limit: Int) throws -> String {
        switch v {
        case .string(let s): return s
        case .undefined: return ""
        case .int(let i): return String(i)
        default: return try repr(v, limit: limit)
        }
    }

    /// `repr(value)` cut to about `limit` bytes with `...`, for error messages.
    static func preview(_ v: TemplateValue, limit: Int = 200) -> String {
        if let text = try? repr(v, limit: limit) { return text }
        let text = (try? repr(v, limit: limit, truncating: true)) ?? ""
        return text + "..."
    }

    /// One open container of the iterative `repr` walk.
    private enum ReprFrame {
        case sequence([TemplateValue], next: Int, close: String)
        case dict(TemplateDictionary, next: Int)
        /// Closes a namespace's `<Namespace {…}>` and ends its "being printed" mark.
        case namespaceEnd(ObjectIdentifier)
    }

    /// `repr(value)`. Iterative, so any nesting depth is safe for the stack; throws a
    /// `RuntimeFailure` once the text exceeds `limit` bytes (or, with `truncating`, returns the
    /// text cut there). A namespace met again inside itself prints as `{...}`, as CPython's
    /// recursive `dict` repr does.
    static func repr(_ value: TemplateValue, limit: Int, truncating: Bool = false) throws -> String {
        var out = ""
        var frames: [ReprFrame] = []
        var printing = Set<ObjectIdentifier>()
        var pending: TemplateValue? = value
        while true {
            if let v = pending {
                pending = nil
                if case .string(let s) = v, out.utf8.count + s.utf8.count > limit {
                    // Refuse before escaping a string that cannot fit.
                    if truncating { return out }
                    throw RuntimeFailure("string result larger than \(limit) bytes (the template string limit)")
                }
                switch v {
                case .list(let items):
                    out += "["
                    frames.append(.sequence(items, next: 0, close: "]"))
                case .tuple(let items):
                    out += "("
                    frames.append(.sequence(items, next: 0, close: items.count == 1 ? ",)" : ")"))
                case .dict(let d):
                    out += "{"
                    frames.append(.dict(d, next: 0))
                case .namespace(let ns):
                    let id = ObjectIdentifier(ns)
                    if printing.contains(id) {
                        out += "<Namespace {...}>"
                    } else {
                        printing.insert(id)
                        out += "<Namespace {"
                        frames.append(.namespaceEnd(id))
                        frames.append(.dict(ns.attributes, next: 0))
                    }
                default:
                    out += leafRepr(v)
                }
            } else if let frame = frames.popLast() {
                switch frame {
                case .sequence(let items, let next, let close):
                    if next == items.count {
                        out += close
                    } else {
                        if next > 0 { out += ", " }
                        frames.append(.sequence(items, next: next + 1, close: close))
                        pending = items[next]
                    }
                case .dict(let d, let next):
                    if next == d.count {
                        out += "}"
                    } else {
                        if next > 0 { out += ", " }
                        let (k, v) = d.elements[next]
                        out += stringRepr(k)
                        out += ": "
                        frames.append(.dict(d, next: next + 1))
                        pending = v
                    }
                case .namespaceEnd(let id):
                    printing.remove(id)
                    out += ">"
                }
            } else {
                return out
            }
            if out.utf8.count > limit {
                if truncating { return String(decoding: out.utf8.prefix(limit), as: UTF8.self) }
                throw RuntimeFailure("string result larger than \(limit) bytes (the template string limit)")
            }
        }
    }

    /// `repr` of a value that holds no other values to print.
    private static func leafRepr(_ v: TemplateValue) -> String {
        switch v {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return floatRepr(d)
        case .string(let s): return stringRepr(s)
        case .macro(let m): return "<Macro '\(m.name)'>"
        case .builtin(let f): return "<built-in function \(f.rawValue)>"
        case .loop: return "<LoopContext>"
        case .method(let receiver, let name): return "<built-in method \(name) of \(receiver.typeName) object>"
        case .list, .tuple, .dict, .namespace: return ""
        }
    }

    /// `repr(float)`: shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16.
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is also shortest round-trip; re-layout its digits Python's way.
        var text = Swift.abs(d).description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        var digits = ""
        var pointPosition = text.count
        for (i, c) in text.enumerated() {
            if c == "." { pointPosition = i } else { digits.append(c) }
        }
        // value = 0.digits * 10^decpt after removing leading zeros
        var decpt = pointPosition + exponent
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); decpt -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = d < 0 ? "-" : ""
        if decpt <= -4 || decpt > 16 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let e = decpt - 1
            let eText = e < 0 ? "-" + pad2(-e) : "+" + pad2(e)
            return sign + mantissa + "e" + eText
        }
        if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + digits }
        if decpt >= digits.count { return sign + digits + String(repeating: "0", count: decpt - digits.count) + ".0" }
        let cut = digits.index(digits.startIndex, offsetBy: decpt)
        return sign + digits[..<cut] + "." + digits[cut...]
    }

    private static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }

    /// `repr(str)`: single quotes unless the text has a single quote and no double quote.
    static func stringRepr(_ s: String) -> String {
        // Printable ASCII without backslashes needs no escapes unless it holds both quotes.
        var plain = true, single = false, double = false
        for b in s.utf8 {
            if b < 0x20 || b > 0x7E || b == 0x5C { plain = false; break }
            if b == 0x27 { single = true } else if b == 0x22 { double = true }
        }
        if plain && !(single && double) { return single ? "\"" + s + "\"" : "'" + s + "'" }
        let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
        // Built as UTF-8 bytes: appending sequences to a String.UnicodeScalarView was
        // quadratic (30 s for a 500 kB string).
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        let q = UInt8(quote.value)
        out.append(q)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out.append(0x5C); out.append(0x5C)
            case "\n": out.append(0x5C); out.append(0x6E)
            case "\r": out.append(0x5C); out.append(0x72)
            case "\t": out.append(0x5C); out.append(0x74)
            default:
                if c == quote {
                    out.append(0x5C); out.append(q)
                } else if c.isASCII ? c.value >= 0x20 && c.value < 0x7F : isPrintable(c) {
                    out.append(contentsOf: String(c).utf8)
                } else if c.value < 0x100 {
                    out.append(contentsOf: "\\x\(hex(c.value, 2))".utf8)
                } else if c.value < 0x10000 {
                    out.append(contentsOf: "\\u\(hex(c.value, 4))".utf8)
                } else {
                    out.append(contentsOf: "\\U\(hex(c.value, 8))".utf8)
                }
            }
        }
        out.append(q)
        return String(decoding: out, as: UTF8.self)
    }

    /// CPython `Py_UNICODE_ISPRINTABLE`: everything except categories Cc, Cf, Cs, Co, Cn, Zl, Zp
    /// and Zs other than the ASCII space.
    private static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        if c == " " { return true }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    // MARK: - JSON

    struct JSONOptions {
        /// nil: single line; otherwise the per-level indent string.
        var indent: String?
        var itemSeparator: String
        var keySeparator: String
        var sortKeys: Bool
        /// Deepest nesting encoded (Python's json raises RecursionError near 1000).
        var maxDepth = 512
        /// Largest text produced, in UTF-8 bytes.
        var maxBytes = Int.max
    }

    struct JSONFailure: Error { let message: String }

    /// `json.dumps(value, ensure_ascii=False, indent=…, separators=…, sort_keys=…)`.
    static func json(_ v: TemplateValue, _ options: JSONOptions) throws -> String {
        var out = ""
        try appendJSON(v, options, level: 0, to: &out)
        return out
    }

    private static func appendJSON(_ v: TemplateValue, _ o: JSONOptions, level: Int, to out: inout String) throws {
        if level > o.maxDepth { throw JSONFailure(message: "maximum nesting depth exceeded while encoding JSON") }
        if out.utf8.count > o.maxBytes { throw tooLarge(o) }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += floatRepr(d) }
        case .string(let s):
            if out.utf8.count + s.utf8.count > o.maxBytes { throw tooLarge(o) }
            appendJSONString(s, to: &out)
        case .list(let items), .tuple(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += o.itemSeparator }
                try newline(o, level + 1, &out)
                try appendJSON(item, o, level: level + 1, to: &out)
            }
            try newline(o, level, &out)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            out += "{"
            var pairs = Array(d.elements)
            if o.sortKeys { pairs.sort { PythonText.less($0.0, $1.0) } }
            for (i, (k, value)) in pairs.enumerated() {
                if i > 0 { out += o.itemSeparator }
                try newline(o, level + 1, &out)
                appendJSONString(k, to: &out)
                out += o.keySeparator
                try appendJSON(value, o, level: level + 1, to: &out)
            }
            try newline(o, level, &out)
            out += "}"
        default:
            throw JSONFailure(message: "Object of type \(v.typeName) is not JSON serializable")
        }
    }

    private static func tooLarge(_ o: JSONOptions) -> JSONFailure {
        JSONFailure(message: "tojson result larger than \(o.maxBytes) bytes (the template string limit)")
    }

    private static func newline(_ o: JSONOptions, _ level: Int, _ out: inout String) throws {
        guard let indent = o.indent else { return }
        let width = indent.utf8.count.multipliedReportingOverflow(by: level)
        if width.overflow || out.utf8.count + 1 + width.partialValue > o.maxBytes { throw tooLarge(o) }
        out += "\n"
        for _ in 0..<level { out += indent }
    }

    /// JSON string with `ensure_ascii=False`: only quote, backslash and C0 controls are escaped.
    static func appendJSONString(_ s: String, to out: inout String) {
        out += "\""
        var needsEscape = false
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C { needsEscape = true; break }
        if !needsEscape {
            out += s
        } else {
            // Byte-level: quote, backslash and C0 controls are ASCII, so UTF-8 sequences of
            // other characters are copied through unchanged.
            var buf: [UInt8] = []
            buf.reserveCapacity(s.utf8.count + 16)
            for b in s.utf8 {
                switch b {
                case 0x22: buf.append(0x5C); buf.append(0x22)
                case 0x5C: buf.append(0x5C); buf.append(0x5C)
                case 0x0A: buf.append(0x5C); buf.append(0x6E)
                case 0x0D: buf.append(0x5C); buf.append(0x72)
                case 0x09: buf.append(0x5C); buf.append(0x74)
                case 0x08: buf.append(0x5C); buf.append(0x62)
                case 0x0C: buf.append(0x5C); buf.append(0x66)
                case 0..<0x20: buf.append(contentsOf: "\\u\(hex(UInt32(b), 4))".utf8)
                default: buf.append(b)
                }
            }
            out += String(decoding: buf, as: UTF8.self)
        }
        out += "\""
    }
}
