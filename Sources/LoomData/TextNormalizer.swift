import Foundation

/// Normalises document text for training: Unicode NFC, line ends, control and invisible
/// characters, whitespace, and words hyphenated across line breaks.
///
/// - NFC (Unicode Standard Annex #15) so that "é" is one code point whatever the source used.
/// - `\r\n` and `\r` become `\n`; other C0/C1 controls, zero-width characters and the BOM are
///   removed; tabs and Unicode spaces (NBSP, U+2000–U+200A, …) become a plain space.
/// - Runs of spaces inside a line collapse to one; trailing spaces go; leading indentation is
///   kept (a tab counts as four spaces) so code blocks stay valid; more than one blank line
///   collapses to one.
/// - `exam-\nple` becomes `example` when a lowercase letter precedes the hyphen and one starts
///   the next line (what PDF and hard-wrapped text leave behind). "Jean-\nPaul" and "2019-\n2020"
///   keep their hyphen.
public struct TextNormalizer: Sendable {
    /// Join words hyphenated across line breaks.
    public var dehyphenate = true

    /// A normaliser with every step on.
    public init() {}

    /// The normalised text.
    public func normalize(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        var lines: [String] = []
        var line = String.UnicodeScalarView()
        var pendingSpace = false
        var indent = 0
        var previousCR = false
        func endLine() {
            lines.append(String(line))
            line = String.UnicodeScalarView()
            pendingSpace = false
            indent = 0
        }
        for scalar in composed.unicodeScalars {
            let v = scalar.value
            if v == 0x0A {
                if previousCR { previousCR = false; continue }
                endLine()
                continue
            }
            previousCR = false
            if v == 0x0D { previousCR = true; endLine(); continue }
            if v == 0x09 || v == 0x20 || v == 0xA0 || v == 0x1680 || (v >= 0x2000 && v <= 0x200A) || v == 0x202F || v == 0x205F || v == 0x3000
                || v == 0x0B || v == 0x0C || v == 0x85 || v == 0x2028 || v == 0x2029 {
                if line.isEmpty { indent += v == 0x09 ? 4 : 1 } else { pendingSpace = true }
                continue
            }
            // Controls, soft hyphen, zero-width characters (not ZWJ/ZWNJ, which shape scripts) and the BOM.
            if v < 0x20 || (v >= 0x7F && v < 0xA0) || v == 0xAD || v == 0x200B || v == 0x2060 || v == 0xFEFF { continue }
            if line.isEmpty && indent > 0 {
                line.append(contentsOf: String(repeating: " ", count: indent).unicodeScalars)
            }
            if pendingSpace { line.append(" ") }
            pendingSpace = false
            line.append(scalar)
        }
        endLine()
        var out: [String] = []
        out.reserveCapacity(lines.count)
        for line in lines {
            if line.isEmpty {
                if let last = out.last, !last.isEmpty { out.append("") }
                continue
            }
            if dehyphenate, let previous = out.last, Self.endsWithBrokenWord(previous), let first = line.unicodeScalars.first,
               first.properties.isLowercase {
                out[out.count - 1] = String(previous.dropLast()) + line
                continue
            }
            out.append(line)
        }
        while out.last?.isEmpty == true { out.removeLast() }
        return out.joined(separator: "\n")
    }

    /// True when `line` ends with a lowercase letter and a hyphen, as in "exam-".
    static func endsWithBrokenWord(_ line: String) -> Bool {
        let scalars = line.unicodeScalars
        guard scalars.count >= 3, scalars.last == "-" else { return false }
        let beforeHyphen = scalars[scalars.index(scalars.endIndex, offsetBy: -2)]
        let beforeThat = scalars[scalars.index(scalars.endIndex, offsetBy: -3)]
        return beforeHyphen.properties.isLowercase && beforeThat.properties.isAlphabetic
    }
}
