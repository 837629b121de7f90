import Foundation

/// The text clean-up BERT tokenizers run before splitting into words: the `tokenizers`
/// library's `BertNormalizer` followed by its `BertPreTokenizer`.
///
/// Everything works on Unicode scalars (Rust `char`s), never on Swift `Character`s: grapheme
/// clustering and canonical-equivalence comparisons would merge what the reference keeps apart.
///
/// ```swift
/// let n = BertNormalizer(lowercase: true)
/// n.words("Héllo, WORLD!")   // ["hello", ",", "world", "!"]
/// ```
public struct BertNormalizer: Sendable, Equatable {
    /// Drop NUL, U+FFFD and control/format characters; turn whitespace into a space.
    public var cleanText: Bool
    /// Surround CJK ideographs with spaces, so each becomes its own word.
    public var handleChineseChars: Bool
    /// Decompose (NFD) and drop non-spacing marks. The JSON's `null` means "same as lowercase".
    public var stripAccents: Bool
    /// Lower-case every scalar (full Unicode lower-case mapping, no context rules).
    public var lowercase: Bool

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The normalised scalars of `text`, in the reference's order: clean, CJK spacing, accent
    /// stripping, lower-casing.
    public func normalize(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
                if Self.isCleanWhitespace(s) { scalars.append(" "); continue }
            }
            if handleChineseChars && Self.isChineseChar(s) {
                scalars.append(" "); scalars.append(s); scalars.append(" ")
            } else {
                scalars.append(s)
            }
        }
        if stripAccents {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for s in scalars {
                // Fast path for ASCII; the full mapping may expand (e.g. İ → i̇).
                if s.isASCII {
                    lowered.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
                } else {
                    lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// `BertPreTokenizer`: split on whitespace (dropped) and make every punctuation scalar a
    /// word of its own. Input is already normalised.
    public static func splitWords(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in scalars {
            if s.properties.isWhitespace {
                if !current.isEmpty { words.append(current); current = [] }
            } else if isPunctuation(s) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Normalised words of `text` as strings (for inspection and tests).
    public func words(_ text: String) -> [String] {
        Self.splitWords(normalize(text)).map { word in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: word)
            return String(view)
        }
    }

    // MARK: - Character classes (tokenizers/src/normalizers/bert.rs, pre_tokenizers/bert.rs)

    /// `is_whitespace` of the normaliser: tab, newline, carriage return, or White_Space.
    static func isCleanWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// `is_control`: any "Other" category (Cc, Cf, Cn, Co, Cs) except tab, newline, return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// `is_bert_punc`: ASCII punctuation (which includes symbols such as `$+<=>^`|~`) or any
    /// Unicode punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT isolates (not Hiragana, Katakana or Hangul).
    static func isChineseChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
