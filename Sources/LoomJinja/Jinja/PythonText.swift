/// Python `str` semantics that Swift's `String` does not share: Python compares and slices by
/// code point, while Swift compares by canonical equivalence and counts grapheme clusters.
/// Template output must be byte-identical to CPython, so every string operation goes through
/// these helpers (on Unicode scalars or UTF-8 bytes).
enum PythonText {
    /// `str.isspace()` for one code point (Unicode White_Space plus the ASCII separators
    /// U+001C…U+001F that CPython also treats as whitespace).
    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Line boundaries of `str.splitlines()`.
    static func isLineBreak(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    /// Code-point equality (Swift `==` would equate NFC and NFD forms).
    @inline(__always)
    static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }

    /// Code-point ordering (UTF-8 byte order equals code-point order).
    static func less(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func length(_ s: String) -> Int { s.unicodeScalars.count }

    /// Byte offset of the first occurrence of `needle` in `hay` at or after `from`, or nil.
    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int = 0) -> Int? {
        let n = needle.count, h = hay.count
        if n == 0 { return from <= h ? from : nil }
        if n > h { return nil }
        var i = from
        let first = needle[0]
        while i <= h - n {
            if hay[i] == first {
                var j = 1
                while j < n && hay[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    static func contains(_ hay: String, _ needle: String) -> Bool {
        find(Array(needle.utf8), in: Array(hay.utf8)) != nil
    }

    static func hasPrefix(_ s: String, _ p: String) -> Bool {
        s.utf8.starts(with: p.utf8)
    }

    static func hasSuffix(_ s: String, _ p: String) -> Bool {
        s.utf8.reversed().starts(with: p.utf8.reversed())
    }

    static func string(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    static func string(scalars: some Sequence<Unicode.Scalar>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        return String(v)
    }

    /// `str.strip(chars)`, `lstrip`, `rstrip`; `chars == nil` strips whitespace.
    static func strip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
        let scalars = Array(s.unicodeScalars)
        let set: Set<UInt32>? = chars.map { Set($0.unicodeScalars.map(\.value)) }
        func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c.value) } ?? isSpace(c) }
        var lo = 0, hi = scalars.count
        if leading { while lo < hi && strippable(scalars[lo]) { lo += 1 } }
        if trailing { while hi > lo && strippable(scalars[hi - 1]) { hi -= 1 } }
        if lo == 0 && hi == scalars.count { return s }
        return string(scalars: scalars[lo..<hi])
    }

    /// `str.split(sep, maxsplit)`.
    static func split(_ s: String, separator: String?, maxSplit: Int) -> [String] {
        guard let separator else {
            // Whitespace split: runs of whitespace separate, empty strings dropped.
            let scalars = Array(s.unicodeScalars)
            var parts: [String] = []
            var i = 0
            let n = scalars.count
            var splits = 0
            while i < n {
                while i < n && isSpace(scalars[i]) { i += 1 }
                if i == n { break }
                if maxSplit >= 0 && splits == maxSplit {
                    var end = n
                    while end > i && isSpace(scalars[end - 1]) { end -= 1 }
                    parts.append(string(scalars: scalars[i..<end]))
                    return parts
                }
                let start = i
                while i < n && !isSpace(scalars[i]) { i += 1 }
                parts.append(string(scalars: scalars[start..<i]))
                splits += 1
            }
            return parts
        }
        let hay = Array(s.utf8), needle = Array(separator.utf8)
        var parts: [String] = []
        var start = 0
        var splits = 0
        while maxSplit < 0 || splits < maxSplit, let at = find(needle, in: hay, from: start) {
            parts.append(string(hay[start..<at]))
            start = at + needle.count
            splits += 1
        }
        parts.append(string(hay[start...]))
        return parts
    }

    /// `str.rsplit(sep, maxsplit)` with an explicit separator.
    static func rsplit(_ s: String, separator: String, maxSplit: Int) -> [String] {
        if maxSplit < 0 { return split(s, separator: separator, maxSplit: -1) }
        let hay = Array(s.utf8), needle = Array(separator.utf8)
        var positions: [Int] = []
        var start = 0
        while let at = find(needle, in: hay, from: start) {
            positions.append(at)
            start = at + needle.count
        }
        let used = positions.suffix(maxSplit)
        var parts: [String] = []
        var from = 0
        for at in used {
            parts.append(string(hay[from..<at]))
            from = at + needle.count
        }
        parts.append(string(hay[from...]))
        return parts
    }

    /// How many replacements `replace(s, old, new, count:)` makes, so the result size can be
    /// checked before it is built.
    static func replacementCount(_ s: String, _ old: String, count: Int) -> Int {
        let n: Int
        if old.isEmpty {
            n = s.unicodeScalars.count + 1
        } else {
            let hay = Array(s.utf8), needle = Array(old.utf8)
            var found = 0, i = 0
            while count < 0 || found < count, let at = find(needle, in: hay, from: i) {
                found += 1
                i = at + needle.count
            }
            n = found
        }
        return count < 0 ? n : min(n, count)
    }

    /// Number of whitespace-separated words (the parts of `str.split()` without a limit).
    static func wordCount(_ s: String) -> Int {
        var n = 0, inWord = false
        for c in s.unicodeScalars {
            let space = isSpace(c)
            if !space && !inWord { n += 1 }
            inWord = !space
        }
        return n
    }

    /// `str.replace(old, new, count)`.
    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        let hay = Array(s.utf8), needle = Array(old.utf8), rep = Array(new.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(hay.count)
        if needle.isEmpty {
            // Python inserts `new` between every code point (and at both ends).
            let scalars = Array(s.unicodeScalars)
            var n = 0
            var result = ""
            for c in scalars {
                if count < 0 || n < count { result += new; n += 1 }
                result.unicodeScalars.append(c)
            }
            if count < 0 || n < count { result += new }
            return result
        }
        var i = 0, done = 0
        while count < 0 || done < count, let at = find(needle, in: hay, from: i) {
            out.append(contentsOf: hay[i..<at])
            out.append(contentsOf: rep)
            i = at + needle.count
            done += 1
        }
        out.append(contentsOf: hay[i...])
        return string(out)
    }

    /// Line breaks in `s` (an upper bound on `splitLines(s).count - 1`).
    static func lineBreakCount(_ s: String) -> Int {
        var n = 0
        for c in s.unicodeScalars where isLineBreak(c) { n += 1 }
        return n
    }

    /// `str.splitlines()` (without keepends).
    static func splitLines(_ s: String) -> [String] {
        let scalars = Array(s.unicodeScalars)
        var lines: [String] = []
        var start = 0, i = 0
        while i < scalars.count {
            if isLineBreak(scalars[i]) {
                lines.append(string(scalars: scalars[start..<i]))
                if scalars[i] == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n" { i += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < scalars.count { lines.append(string(scalars: scalars[start...])) }
        return lines
    }

    // Builders append one scalar at a time: `append(contentsOf:)` of another string's
    // UnicodeScalarView copied the whole result each time (quadratic: minutes for 1 M chars).

    /// Case mappings of one code point, without a Unicode table lookup for ASCII.
    @inline(__always)
    static func appendLower(_ c: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
        if c.isASCII {
            out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(UInt8(c.value + 32)) : c)
        } else {
            for u in c.properties.lowercaseMapping.unicodeScalars { out.append(u) }
        }
    }

    @inline(__always)
    static func appendTitle(_ c: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
        if c.isASCII {
            out.append(c.value >= 0x61 && c.value <= 0x7A ? Unicode.Scalar(UInt8(c.value - 32)) : c)
        } else {
            for u in c.properties.titlecaseMapping.unicodeScalars { out.append(u) }
        }
    }

    /// `s` (all ASCII) with each byte rewritten in order.
    static func asciiMap(_ s: String, _ f: (UInt8) -> UInt8) -> String {
        String(decoding: s.utf8.map(f), as: UTF8.self)
    }

    /// True when every byte is ASCII (the fast paths below need no Unicode tables).
    static func isASCII(_ s: String) -> Bool {
        s.utf8.allSatisfy { $0 < 0x80 }
    }

    /// Code points outside ASCII: the slow (table-driven) part of case mapping and reversal,
    /// which the interpreter counts against its step budget.
    static func nonASCIICount(_ s: String) -> Int {
        var n = 0
        for b in s.utf8 where b >= 0xC0 { n += 1 }
        return n
    }

    static func isCased(_ c: Unicode.Scalar) -> Bool {
        c.properties.isLowercase || c.properties.isUppercase || c.properties.generalCategory == .titlecaseLetter
    }

    static func upper(_ s: String) -> String {
        if isASCII(s) { return String(decoding: s.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 32 : $0 }, as: UTF8.self) }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars { for u in c.properties.uppercaseMapping.unicodeScalars { out.append(u) } }
        return String(out)
    }

    static func swapcase(_ s: String) -> String {
        if isASCII(s) {
            return String(decoding: s.utf8.map { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) ? $0 ^ 0x20 : $0 }, as: UTF8.self)
        }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            let m = c.properties.isUppercase ? c.properties.lowercaseMapping : (c.properties.isLowercase ? c.properties.uppercaseMapping : String(c))
            for u in m.unicodeScalars { out.append(u) }
        }
        return String(out)
    }

    static func lower(_ s: String) -> String {
        if isASCII(s) { return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self) }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars { appendLower(c, to: &out) }
        return String(out)
    }

    /// `str.title()`: a cased character after an uncased one starts a word.
    static func title(_ s: String) -> String {
        if isASCII(s) {
            var previousCased = false
            return asciiMap(s) { b in
                let letter = (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A
                defer { previousCased = letter }
                return letter ? (previousCased ? b | 0x20 : b & ~0x20) : b
            }
        }
        var out = String.UnicodeScalarView()
        var previousCased = false
        for c in s.unicodeScalars {
            if previousCased {
                appendLower(c, to: &out)
            } else {
                appendTitle(c, to: &out)
            }
            previousCased = isCased(c)
        }
        return String(out)
    }

    /// `str.capitalize()`: first code point title-cased, the rest lower-cased.
    static func capitalize(_ s: String) -> String {
        if isASCII(s) {
            var first = true
            return asciiMap(s) { b in
                let letter = (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A
                defer { first = false }
                return letter ? (first ? b & ~0x20 : b | 0x20) : b
            }
        }
        var out = String.UnicodeScalarView()
        var first = true
        for c in s.unicodeScalars {
            if first {
                appendTitle(c, to: &out)
                first = false
            } else {
                appendLower(c, to: &out)
            }
        }
        return String(out)
    }
}
