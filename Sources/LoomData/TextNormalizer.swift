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
    ///
    /// One pass over the UTF-8 bytes: ASCII is decided byte by byte (the common case);
    /// other characters are decoded from their bytes. NFC runs only on texts that
    /// `NFCQuickCheck` cannot show to be NFC already (it is a no-op on the others).
    public func normalize(_ text: String) -> String {
        var original = text
        let isNFC = original.withUTF8 { NFCQuickCheck.isNFC($0) }
        let composed = isNFC ? text : text.precomposedStringWithCanonicalMapping
        var builder = LineBuilder(dehyphenate: dehyphenate, capacity: composed.utf8.count)
        var previousCR = false
        var utf8 = composed
        utf8.withUTF8 { bytes in
            let n = bytes.count
            var i = 0
            while i < n {
                let b = bytes[i]
                if b < 0x80 {
                    i += 1
                    if b == 0x0A {
                        if previousCR { previousCR = false } else { builder.finishLine() }
                        continue
                    }
                    previousCR = false
                    switch b {
                    case 0x0D: previousCR = true; builder.finishLine()
                    case 0x20, 0x0B, 0x0C: builder.space(1)
                    case 0x09: builder.space(4)
                    case 0x00 ..< 0x20, 0x7F: break  // other controls
                    default:
                        // A run of printable ASCII is appended at once (per-byte appends
                        // were the normaliser's main cost).
                        var end = i
                        while end < n && bytes[end] > 0x20 && bytes[end] < 0x7F { end += 1 }
                        builder.append(UnsafeBufferPointer(rebasing: bytes[i - 1 ..< end]))
                        i = end
                    }
                    continue
                }
                previousCR = false
                let length = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : 2)
                guard i + length <= n else { break }
                var v = UInt32(b) & (length == 2 ? 0x1F : (length == 3 ? 0x0F : 0x07))
                for k in 1 ..< length { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
                if v == 0xA0 || v == 0x85 || v == 0x1680 || (v >= 0x2000 && v <= 0x200A) || v == 0x2028 || v == 0x2029
                    || v == 0x202F || v == 0x205F || v == 0x3000 {
                    builder.space(1)
                } else if (v >= 0x80 && v < 0xA0) || v == 0xAD || v == 0x200B || v == 0x2060 || v == 0xFEFF {
                    // C1 controls, soft hyphen, zero-width space and word joiner, BOM: dropped.
                } else {
                    builder.append(UnsafeBufferPointer(rebasing: bytes[i ..< i + length]))
                }
                i += length
            }
        }
        builder.finishLine()
        return String(decoding: builder.out, as: UTF8.self)
    }

    /// Lines under construction: indentation, collapsed spaces, blank lines, de-hyphenation.
    struct LineBuilder {
        let dehyphenate: Bool
        var out: [UInt8] = []
        var line: [UInt8] = []
        var indent = 0
        var pendingSpace = false
        var blankPending = false
        var previousLineStart = -1

        init(dehyphenate: Bool, capacity: Int) {
            self.dehyphenate = dehyphenate
            out.reserveCapacity(capacity)
        }

        mutating func space(_ width: Int) {
            if line.isEmpty { indent += width } else { pendingSpace = true }
        }

        private mutating func startContent() {
            if line.isEmpty && indent > 0 { line.append(contentsOf: repeatElement(0x20, count: indent)) }
            if pendingSpace { line.append(0x20) }
            pendingSpace = false
        }

        mutating func append(_ byte: UInt8) {
            startContent()
            line.append(byte)
        }

        mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
            startContent()
            line.append(contentsOf: bytes)
        }

        mutating func finishLine() {
            defer {
                line.removeAll(keepingCapacity: true)
                indent = 0
                pendingSpace = false
            }
            if line.isEmpty {
                if previousLineStart >= 0 { blankPending = true }
                return
            }
            if dehyphenate && !blankPending && previousLineStart >= 0 && out.last == UInt8(ascii: "-") && startsLowercase(line)
                && TextNormalizer.endsWithBrokenWord(String(decoding: out[max(previousLineStart, out.count - 16)...], as: UTF8.self)) {
                out.removeLast()
                out.append(contentsOf: line)
                return
            }
            if previousLineStart >= 0 {
                out.append(0x0A)
                if blankPending { out.append(0x0A) }
            }
            blankPending = false
            previousLineStart = out.count
            out.append(contentsOf: line)
        }

        private func startsLowercase(_ line: [UInt8]) -> Bool {
            guard let first = line.first else { return false }
            if first < 0x80 { return first >= 0x61 && first <= 0x7A }
            return String(decoding: line.prefix(4), as: UTF8.self).unicodeScalars.first?.properties.isLowercase ?? false
        }
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
