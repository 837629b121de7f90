/// Python `str.format` for the plain field forms `{}`, `{0}`, `{name}` (with `{{` / `}}`
/// escapes and an optional `!s` / `!r` conversion); format specs are rejected with an error.
enum PythonBraceFormat {
    /// Throws a `RuntimeFailure` rather than build more than `limit` bytes.
    static func format(_ format: String, _ positional: [TemplateValue], _ keyword: [(String, TemplateValue)], limit: Int) throws -> String {
        let scalars = Array(format.unicodeScalars)
        var out = ""
        var auto = 0
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c == "}" {
                guard i + 1 < scalars.count, scalars[i + 1] == "}" else { throw RuntimeFailure("Single '}' encountered in format string") }
                out += "}"
                i += 2
                continue
            }
            if c != "{" { out.unicodeScalars.append(c); i += 1; continue }
            if i + 1 < scalars.count, scalars[i + 1] == "{" { out += "{"; i += 2; continue }
            guard let close = scalars[(i + 1)...].firstIndex(of: "}") else { throw RuntimeFailure("Single '{' encountered in format string") }
            var field = PythonText.string(scalars: scalars[(i + 1)..<close])
            i = close + 1
            var conversion: String?
            if let bang = field.firstIndex(of: "!") {
                conversion = String(field[field.index(after: bang)...])
                field = String(field[..<bang])
            }
            if field.contains(":") { throw RuntimeFailure("format specs in str.format are not supported") }
            let value: TemplateValue
            if field.isEmpty {
                guard auto < positional.count else { throw RuntimeFailure("Replacement index \(auto) out of range for positional args tuple") }
                value = positional[auto]
                auto += 1
            } else if let n = Int(field) {
                guard n >= 0 && n < positional.count else { throw RuntimeFailure("Replacement index \(n) out of range for positional args tuple") }
                value = positional[n]
            } else {
                guard let v = keyword.first(where: { $0.0 == field })?.1 else { throw RuntimeFailure("KeyError: '\(field)'") }
                value = v
            }
            let text = conversion == "r" ? try PythonFormat.repr(value, limit: limit) : try PythonFormat.str(value, limit: limit)
            if out.utf8.count + text.utf8.count > limit {
                throw RuntimeFailure("string result larger than \(limit) bytes (the template string limit)")
            }
            out += text
        }
        return out
    }
}
