import Foundation

/// The common part of Python's `str % args` formatting: `%s %r %d %i %f %x %%` with optional
/// flags, width and precision.
enum PythonPercentFormat {
    /// Throws a `RuntimeFailure` rather than build more than `limit` bytes.
    static func format(_ format: String, _ args: TemplateValue, limit: Int) throws -> String {
        let values: [TemplateValue]
        if case .tuple(let items) = args { values = items } else { values = [args] }
        var next = 0
        var out = ""
        let scalars = Array(format.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            i += 1
            if c != "%" { out.unicodeScalars.append(c); continue }
            guard i < scalars.count else { throw RuntimeFailure("incomplete format") }
            var flags = ""
            while i < scalars.count, "-+ 0#".unicodeScalars.contains(scalars[i]) { flags.unicodeScalars.append(scalars[i]); i += 1 }
            var width = ""
            while i < scalars.count, ("0"..."9").contains(scalars[i]) { width.unicodeScalars.append(scalars[i]); i += 1 }
            var precision: Int?
            if i < scalars.count, scalars[i] == "." {
                i += 1
                var p = ""
                while i < scalars.count, ("0"..."9").contains(scalars[i]) { p.unicodeScalars.append(scalars[i]); i += 1 }
                precision = Int(p) ?? 0
            }
            guard i < scalars.count else { throw RuntimeFailure("incomplete format") }
            let conv = scalars[i]
            i += 1
            if conv == "%" { out += "%"; continue }
            guard next < values.count else { throw RuntimeFailure("not enough arguments for format string") }
            let v = values[next]
            next += 1
            var text: String
            switch conv {
            case "s": text = try PythonFormat.str(v, limit: limit)
            case "r": text = try PythonFormat.repr(v, limit: limit)
            case "d", "i":
                guard let d = v.asDouble else { throw RuntimeFailure("%\(conv) format: a real number is required, not \(v.typeName)") }
                if let i = v.asInt {
                    text = String(i)
                } else {
                    guard d.isFinite, Swift.abs(d) < 9.2e18 else { throw RuntimeFailure("%\(conv) format: number out of range") }
                    text = String(Int(d.rounded(.towardZero)))
                }
                if flags.contains("+") && !text.hasPrefix("-") { text = "+" + text }
            case "f", "F", "e", "g":
                guard let d = v.asDouble else { throw RuntimeFailure("must be real number, not \(v.typeName)") }
                text = String(format: "%\(flags.contains("+") ? "+" : "").\(min(precision ?? 6, 400))\(conv == "F" ? "f" : String(conv))", d)
            case "x", "X", "o":
                guard let n = v.asInt else { throw RuntimeFailure("%\(conv) format: an integer is required, not \(v.typeName)") }
                text = String(n, radix: conv == "o" ? 8 : 16, uppercase: conv == "X")
            default:
                throw RuntimeFailure("unsupported format character '\(conv)'")
            }
            if conv == "s" || conv == "r", let precision { text = String(text.unicodeScalars.prefix(precision).map(Character.init)) }
            // A width beyond the limit (or beyond Int) cannot be padded to.
            if !width.isEmpty, (Int(width) ?? Int.max) - PythonText.length(text) > limit - out.utf8.count - text.utf8.count {
                throw RuntimeFailure("string result larger than \(limit) bytes (the template string limit)")
            }
            if let w = Int(width), PythonText.length(text) < w {
                let pad = w - PythonText.length(text)
                if flags.contains("-") {
                    text += String(repeating: " ", count: pad)
                } else if flags.contains("0") && conv != "s" && conv != "r" {
                    let neg = text.hasPrefix("-") || text.hasPrefix("+")
                    text = neg ? String(text.first!) + String(repeating: "0", count: pad) + text.dropFirst() : String(repeating: "0", count: pad) + text
                } else {
                    text = String(repeating: " ", count: pad) + text
                }
            }
            if out.utf8.count + text.utf8.count > limit {
                throw RuntimeFailure("string result larger than \(limit) bytes (the template string limit)")
            }
            out += text
        }
        // Python ignores an unused operand that supports subscripting (dict, list), but not
        // unused positional arguments.
        if next < values.count, !isMapping(args) {
            throw RuntimeFailure("not all arguments converted during string formatting")
        }
        return out
    }

    private static func isMapping(_ v: TemplateValue) -> Bool {
        switch v {
        case .dict, .list, .undefined: return true
        default: return false
        }
    }
}
