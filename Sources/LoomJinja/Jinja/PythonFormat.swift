/// Python's `str()`, `repr()` and `json.dumps()` of template values, byte for byte.
enum PythonFormat {
    /// `str(value)` as jinja2 prints it (Undefined prints as the empty string).
    static func str(_ v: TemplateValue) -> String {
        switch v {
        case .string(let s): return s
        case .undefined: return ""
        case .int(let i): return String(i)
        default: return repr(v)
        }
    }

    static func repr(_ v: TemplateValue) -> String {
        var out = ""
        appendRepr(v, to: &out)
        return out
    }

    static func appendRepr(_ v: TemplateValue, to out: inout String) {
        switch v {
        case .undefined: out += "Undefined"
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .float(let d): out += floatRepr(d)
        case .string(let s): out += stringRepr(s)
        case .list(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                appendRepr(item, to: &out)
            }
            out += "]"
        case .tuple(let items):
            out += "("
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                appendRepr(item, to: &out)
            }
            out += items.count == 1 ? ",)" : ")"
        case .dict(let d):
            out += "{"
            for (i, (k, value)) in d.enumerated() {
                if i > 0 { out += ", " }
                out += stringRepr(k)
                out += ": "
                appendRepr(value, to: &out)
            }
            out += "}"
        case .namespace(let ns):
            out += "<Namespace "
            appendRepr(.dict(ns.attributes), to: &out)
            out += ">"
        case .macro(let m): out += "<Macro '\(m.name)'>"
        case .builtin(let f): out += "<built-in function \(f.rawValue)>"
        case .loop: out += "<LoopContext>"
        case .method(let receiver, let name): out += "<built-in method \(name) of \(receiver.typeName) object>"
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
        let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default:
                if c == quote {
                    out.append("\\"); out.append(c)
                } else if isPrintable(c) {
                    out.append(c)
                } else if c.value < 0x100 {
                    out.append(contentsOf: "\\x\(hex(c.value, 2))".unicodeScalars)
                } else if c.value < 0x10000 {
                    out.append(contentsOf: "\\u\(hex(c.value, 4))".unicodeScalars)
                } else {
                    out.append(contentsOf: "\\U\(hex(c.value, 8))".unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
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
    }

    struct JSONFailure: Error { let message: String }

    /// `json.dumps(value, ensure_ascii=False, indent=…, separators=…, sort_keys=…)`.
    static func json(_ v: TemplateValue, _ options: JSONOptions) throws -> String {
        var out = ""
        try appendJSON(v, options, level: 0, to: &out)
        return out
    }

    private static func appendJSON(_ v: TemplateValue, _ o: JSONOptions, level: Int, to out: inout String) throws {
        if level > 512 { throw JSONFailure(message: "maximum nesting depth exceeded while encoding JSON") }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += floatRepr(d) }
        case .string(let s): appendJSONString(s, to: &out)
        case .list(let items), .tuple(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += o.itemSeparator }
                newline(o, level + 1, &out)
                try appendJSON(item, o, level: level + 1, to: &out)
            }
            newline(o, level, &out)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            out += "{"
            var pairs = Array(d.elements)
            if o.sortKeys { pairs.sort { PythonText.less($0.0, $1.0) } }
            for (i, (k, value)) in pairs.enumerated() {
                if i > 0 { out += o.itemSeparator }
                newline(o, level + 1, &out)
                appendJSONString(k, to: &out)
                out += o.keySeparator
                try appendJSON(value, o, level: level + 1, to: &out)
            }
            newline(o, level, &out)
            out += "}"
        default:
            throw JSONFailure(message: "Object of type \(v.typeName) is not JSON serializable")
        }
    }

    private static func newline(_ o: JSONOptions, _ level: Int, _ out: inout String) {
        guard let indent = o.indent else { return }
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
            var buf = String.UnicodeScalarView()
            for c in s.unicodeScalars {
                switch c {
                case "\"": buf.append(contentsOf: "\\\"".unicodeScalars)
                case "\\": buf.append(contentsOf: "\\\\".unicodeScalars)
                case "\n": buf.append(contentsOf: "\\n".unicodeScalars)
                case "\r": buf.append(contentsOf: "\\r".unicodeScalars)
                case "\t": buf.append(contentsOf: "\\t".unicodeScalars)
                case "\u{08}": buf.append(contentsOf: "\\b".unicodeScalars)
                case "\u{0C}": buf.append(contentsOf: "\\f".unicodeScalars)
                default:
                    if c.value < 0x20 {
                        buf.append(contentsOf: "\\u\(hex(c.value, 4))".unicodeScalars)
                    } else {
                        buf.append(c)
                    }
                }
            }
            out += String(buf)
        }
        out += "\""
    }
}
