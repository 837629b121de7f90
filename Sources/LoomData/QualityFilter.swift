import Foundation

/// Document-level quality rules from Gopher (Rae et al. 2021, "Scaling Language Models:
/// Methods, Analysis & Insights from Training Gopher", arXiv:2112.11446, appendix A.1.1,
/// "Quality filtering" and table A1 "Repetition removal"), computed as datatrove's
/// `GopherQualityFilter` and `GopherRepetitionFilter` do (github.com/huggingface/datatrove,
/// `pipeline/filters/gopher_*_filter.py`). Each rule has its own counter name in the report.
public struct QualityFilter: Sendable {
    /// The thresholds; the defaults are the paper's.
    public struct Thresholds: Sendable {
        /// Keep documents with 50 to 100,000 words (words with at least one non-symbol character).
        public var minWords = 50
        public var maxWords = 100_000
        /// Mean word length between 3 and 10 characters.
        public var minMeanWordLength = 3.0
        public var maxMeanWordLength = 10.0
        /// Ratio of `#` symbols, and of ellipses (`...`, `…`), to words at most 0.1.
        public var maxSymbolWordRatio = 0.1
        /// At most 90 % of lines starting with a bullet point.
        public var maxBulletLines = 0.9
        /// At most 30 % of lines ending with an ellipsis.
        public var maxEllipsisLines = 0.3
        /// At least 80 % of words with an alphabetic character.
        public var minAlphaWords = 0.8
        /// At least two of the stop words "the, be, to, of, and, that, have, with".
        public var minStopWords = 2
        /// Duplicate lines / paragraphs: at most 30 % of them, 20 % of their characters.
        public var maxDuplicateLineFraction = 0.3
        public var maxDuplicateParagraphFraction = 0.3
        public var maxDuplicateLineCharacters = 0.2
        public var maxDuplicateParagraphCharacters = 0.2
        /// Most frequent 2-, 3-, 4-gram: at most 20 %, 18 %, 16 % of the characters.
        public var maxTopNGramCharacters: [Int: Double] = [2: 0.20, 3: 0.18, 4: 0.16]
        /// Characters in duplicated 5- to 10-grams: at most 15 %, 14 %, … 10 %.
        public var maxDuplicateNGramCharacters: [Int: Double] = [5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10]
        /// The paper's values.
        public init() {}
    }

    /// The thresholds.
    public var thresholds = Thresholds()
    /// Apply the quality rules (symbols, bullets, ellipses, alphabetic words, stop words).
    public var quality = true
    /// Apply the repetition rules.
    public var repetition = true
    /// Apply the word-count rule.
    public var length = true

    static let stopWords: Set<Substring> = ["the", "be", "to", "of", "and", "that", "have", "with"]
    static let bullets: Set<Character> = ["•", "‣", "◦", "⁃", "-", "*", "·", "–", "—", "●", "▪"]

    /// A filter with the paper's thresholds.
    public init() {}

    /// The counter name of the first rule `text` fails, or nil when it passes.
    public func rejection(_ text: String) -> String? {
        let t = thresholds
        if length || quality {
            let (contentWords, contentLength) = Self.contentWords(text)
            if length {
                if contentWords < t.minWords { return "length_too_few_words" }
                if contentWords > t.maxWords { return "length_too_many_words" }
            }
            if quality {
                if contentWords == 0 { return "gopher_mean_word_length" }
                let mean = Double(contentLength) / Double(contentWords)
                if mean < t.minMeanWordLength || mean > t.maxMeanWordLength { return "gopher_mean_word_length" }
            }
        }
        // Only the quality and repetition rules look at the words themselves.
        let words = quality || repetition ? Self.whitespaceWords(text) : []
        if quality {
            let n = Double(max(1, words.count))
            var hashes = 0
            var ellipses = 0
            var i = text.startIndex
            while i < text.endIndex {
                let c = text[i]
                if c == "#" { hashes += 1 } else if c == "…" { ellipses += 1 }
                else if c == ".", text[i...].hasPrefix("...") { ellipses += 1; i = text.index(i, offsetBy: 3); continue }
                i = text.index(after: i)
            }
            if Double(hashes) / n > t.maxSymbolWordRatio || Double(ellipses) / n > t.maxSymbolWordRatio { return "gopher_symbol_word_ratio" }
            let lines = text.split(separator: "\n")
            if !lines.isEmpty {
                let lineCount = Double(lines.count)
                let bulletLines = lines.filter { line in line.drop(while: { $0 == " " }).first.map { Self.bullets.contains($0) } ?? false }.count
                if Double(bulletLines) / lineCount > t.maxBulletLines { return "gopher_bullet_lines" }
                let ellipsisLines = lines.filter { $0.hasSuffix("...") || $0.hasSuffix("…") }.count
                if Double(ellipsisLines) / lineCount > t.maxEllipsisLines { return "gopher_ellipsis_lines" }
            }
            // Scalars, not Characters: a letter is a letter with or without combining marks,
            // and grapheme breaking per word is what made this rule slow.
            let alphaWords = words.filter { word in
                word.utf8.contains(where: { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A })
                    || word.unicodeScalars.contains(where: { !$0.isASCII && $0.properties.isAlphabetic })
            }.count
            if Double(alphaWords) / n < t.minAlphaWords { return "gopher_alphabetic_words" }
            var stops = 0
            // The stop words are 2–4 ASCII letters: longer words are never lowercased.
            for word in words where word.utf8.count <= 4 && Self.stopWords.contains(Substring(word.lowercased())) {
                stops += 1
                if stops >= t.minStopWords { break }
            }
            if stops < t.minStopWords { return "gopher_stop_words" }
        }
        if repetition, let rule = repetitionRejection(text, words: words) { return rule }
        return nil
    }

    private func repetitionRejection(_ text: String, words: [Substring]) -> String? {
        let t = thresholds
        // Code points, as datatrove's len (counting Characters breaks graphemes over the whole text).
        let totalCharacters = Double(max(1, text.unicodeScalars.count))
        // Paragraphs (split on blank lines) and lines.
        let paragraphs = Self.trimmedPieces(text, paragraphs: true)
        let (dupParagraphs, dupParagraphChars) = Self.duplicates(paragraphs)
        if !paragraphs.isEmpty {
            if Double(dupParagraphs) / Double(paragraphs.count) > t.maxDuplicateParagraphFraction { return "gopher_duplicate_paragraphs" }
            if Double(dupParagraphChars) / totalCharacters > t.maxDuplicateParagraphCharacters { return "gopher_duplicate_paragraph_characters" }
        }
        let lines = Self.trimmedPieces(text, paragraphs: false)
        let (dupLines, dupLineChars) = Self.duplicates(lines)
        if !lines.isEmpty {
            if Double(dupLines) / Double(lines.count) > t.maxDuplicateLineFraction { return "gopher_duplicate_lines" }
            if Double(dupLineChars) / totalCharacters > t.maxDuplicateLineCharacters { return "gopher_duplicate_line_characters" }
        }
        // Hashes of the words' bytes, and lengths in code points (as datatrove's `len`),
        // both without building a `String` or breaking graphemes per word.
        let wordHashes = words.map { word in
            var w = word
            return w.withUTF8 { StableHash.hash64(UnsafeRawBufferPointer($0)) }
        }
        let wordLengths = words.map { word in word.utf8.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }
        for n in t.maxTopNGramCharacters.keys.sorted() where words.count >= n {
            var counts: [UInt64: Int] = [:]
            var best = 0
            var bestLength = 0
            for i in 0 ... (words.count - n) {
                var h = wordHashes[i]
                for j in 1 ..< n { h = StableHash.combine(h, wordHashes[i + j]) }
                let c = counts[h, default: 0] + 1
                counts[h] = c
                if c > best {
                    best = c
                    bestLength = (i ..< i + n).reduce(n - 1) { $0 + wordLengths[$1] }
                }
            }
            if best > 1 && Double(best * bestLength) / totalCharacters > t.maxTopNGramCharacters[n]! { return "gopher_top_\(n)gram" }
        }
        for n in t.maxDuplicateNGramCharacters.keys.sorted() where words.count >= n {
            var seen = Set<UInt64>()
            var repeated = 0
            var i = 0
            while i <= words.count - n {
                var h = wordHashes[i]
                for j in 1 ..< n { h = StableHash.combine(h, wordHashes[i + j]) }
                if seen.contains(h) {
                    repeated += (i ..< i + n).reduce(0) { $0 + wordLengths[$1] }
                    i += n
                } else {
                    seen.insert(h)
                    i += 1
                }
            }
            if Double(repeated) / totalCharacters > t.maxDuplicateNGramCharacters[n]! { return "gopher_duplicate_\(n)gram" }
        }
        return nil
    }

    /// Words (split on whitespace) with a character that is neither punctuation nor a symbol,
    /// and their total length in characters. One pass over the UTF-8 bytes; only non-ASCII
    /// characters are decoded to look up their category.
    static func contentWords(_ text: String) -> (words: Int, characters: Int) {
        var words = 0
        var characters = 0
        var wordCharacters = 0
        var isContent = false
        var copy = text
        copy.withUTF8 { bytes in
            let n = bytes.count
            var i = 0
            while i <= n {
                let b: UInt8 = i < n ? bytes[i] : 0x20
                if b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D {
                    if isContent { words += 1; characters += wordCharacters }
                    wordCharacters = 0
                    isContent = false
                    i += 1
                    continue
                }
                wordCharacters += 1
                if b < 0x80 {
                    if !isContent && ((b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A)) { isContent = true }
                    i += 1
                    continue
                }
                let length = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : 2)
                if !isContent && i + length <= n {
                    var v = UInt32(b) & (length == 2 ? 0x1F : (length == 3 ? 0x0F : 0x07))
                    for k in 1 ..< length { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
                    if let scalar = Unicode.Scalar(v) {
                        switch scalar.properties.generalCategory {
                        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                             .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
                            break
                        default: isContent = true
                        }
                    }
                }
                i += length
            }
        }
        return (words, characters)
    }

    /// The words of `text` split on spaces, newlines and tabs, found on the UTF-8 bytes
    /// (splitting `Character`s costs grapheme breaking, most of this filter's time).
    static func whitespaceWords(_ text: String) -> [Substring] {
        var words: [Substring] = []
        let utf8 = text.utf8
        var start: String.Index? = nil
        var i = utf8.startIndex
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == 0x20 || b == 0x0A || b == 0x09 {
                if let s = start { words.append(text[s ..< i]); start = nil }
            } else if start == nil {
                start = i
            }
            utf8.formIndex(after: &i)
        }
        if let s = start { words.append(text[s ..< utf8.endIndex]) }
        return words
    }

    /// The non-blank paragraphs (split at each "\n\n") or lines (split at "\n") of `text`,
    /// trimmed of ASCII whitespace, as (hash of the bytes, length in code points). Bytes, not
    /// Characters: normalised text has no other whitespace, and splitting and trimming
    /// Strings was most of the repetition rules' time.
    static func trimmedPieces(_ text: String, paragraphs: Bool) -> [(hash: UInt64, characters: Int)] {
        var copy = text
        return copy.withUTF8 { bytes in
            var pieces: [(hash: UInt64, characters: Int)] = []
            let n = bytes.count
            func add(_ lo: Int, _ hi: Int) {
                var lo = lo
                var hi = hi
                while lo < hi && (bytes[lo] == 0x20 || (bytes[lo] >= 0x09 && bytes[lo] <= 0x0D)) { lo += 1 }
                while hi > lo && (bytes[hi - 1] == 0x20 || (bytes[hi - 1] >= 0x09 && bytes[hi - 1] <= 0x0D)) { hi -= 1 }
                if lo == hi { return }
                var characters = 0
                for i in lo ..< hi where bytes[i] & 0xC0 != 0x80 { characters += 1 }
                pieces.append((StableHash.hash64(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[lo ..< hi])), characters))
            }
            var start = 0
            var i = 0
            while i < n {
                if bytes[i] == 0x0A && (!paragraphs || (i + 1 < n && bytes[i + 1] == 0x0A)) {
                    add(start, i)
                    i += paragraphs ? 2 : 1
                    start = i
                } else {
                    i += 1
                }
            }
            add(start, n)
            return pieces
        }
    }

    /// How many pieces repeat an earlier one (by hash), and their characters.
    static func duplicates(_ items: [(hash: UInt64, characters: Int)]) -> (Int, Int) {
        var seen = Set<UInt64>()
        var count = 0
        var characters = 0
        for item in items where !seen.insert(item.hash).inserted {
            count += 1
            characters += item.characters
        }
        return (count, characters)
    }
}
