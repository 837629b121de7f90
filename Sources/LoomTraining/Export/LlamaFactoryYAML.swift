import LoomJinja

/// A flat YAML mapping, written by hand: LLaMA-Factory's training files are one level of
/// `key: scalar` lines, which needs no YAML library.
///
/// Scalars are written so that PyYAML's `safe_load` (YAML 1.1, what LLaMA-Factory's
/// `read_args` uses) reads back the same type: strings always double-quoted with JSON escapes
/// (a valid YAML double-quoted scalar, so `no`, `1e-4`, `:` or `#` stay strings); floats always
/// with a decimal point and a signed exponent (`1.0e-04`), because YAML 1.1 reads `1e-4` as a
/// string.
public struct LlamaFactoryYAML: Sendable, Equatable {
    public enum Scalar: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case bool(Bool)
    }

    /// Keys in output order, with an optional `### section` comment before a key.
    public private(set) var entries: [(key: String, value: Scalar, section: String?)] = []

    public init() {}

    public static func == (a: LlamaFactoryYAML, b: LlamaFactoryYAML) -> Bool {
        a.entries.elementsEqual(b.entries) { $0.key == $1.key && $0.value == $1.value && $0.section == $1.section }
    }

    /// Appends `key: value`; a repeated key replaces the earlier value in place.
    public mutating func set(_ key: String, _ value: Scalar, section: String? = nil) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            entries.append((key, value, section))
        }
    }

    public subscript(key: String) -> Scalar? {
        entries.first { $0.key == key }?.value
    }

    /// The file's text, with `header` lines as leading comments.
    public func text(header: [String] = []) -> String {
        var out = header.map { "# " + $0 + "\n" }.joined()
        for entry in entries {
            if let section = entry.section { out += (out.isEmpty ? "" : "\n") + "### " + section + "\n" }
            out += entry.key + ": " + Self.render(entry.value) + "\n"
        }
        return out
    }

    static func render(_ value: Scalar) -> String {
        switch value {
        case .string(let text): return JSONText.quote(text)
        case .integer(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .float(let number): return float(number)
        }
    }

    /// `1.0e-04`, `0.0001`, `3.0`: always a `.`, exponents signed (YAML 1.1's float pattern).
    static func float(_ number: Double) -> String {
        guard number.isFinite else { return number.isNaN ? ".nan" : (number > 0 ? ".inf" : "-.inf") }
        var text = "\(number)"  // Swift prints the shortest round-trip form: 0.0001, 1e-05, 1e+20
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mantissa = String(text[..<e])
            var exponent = String(text[text.index(after: e)...])
            if !mantissa.contains(".") { mantissa += ".0" }
            if !exponent.hasPrefix("-"), !exponent.hasPrefix("+") { exponent = "+" + exponent }
            text = mantissa + "e" + exponent
        } else if !text.contains(".") {
            text += ".0"
        }
        return text
    }
}
