/// The character classes the pre-tokenizer expressions use, as bit flags per Unicode scalar.
/// A scalar with none of letter/number/whitespace is "other" (`[^\s\p{L}\p{N}]`).
enum ScalarClass {
    /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
    static let letter: UInt8 = 1
    /// `\p{N}`: general category Nd, Nl or No.
    static let number: UInt8 = 2
    /// `\s`: the Unicode White_Space property (what Oniguruma, the Rust regex crate and
    /// PCRE2-with-UCP all use for `\s`).
    static let whitespace: UInt8 = 4
    /// `[\r\n]`.
    static let newline: UInt8 = 8
    /// The literal space U+0020 of ` ?`.
    static let space: UInt8 = 16

    /// Precomputed flags for ASCII, the bulk of most text.
    static let ascii: [UInt8] = (0..<128).map { v in
        let s = Unicode.Scalar(UInt8(v))
        var f = classify(s)
        if v == 0x0A || v == 0x0D { f |= newline }
        if v == 0x20 { f |= space }
        return f
    }

    @inline(__always)
    static func flags(_ value: UInt32) -> UInt8 {
        if value < 128 { return ascii[Int(value)] }
        // Valid UTF-8 never yields a surrogate or a value above 0x10FFFF.
        guard let s = Unicode.Scalar(value) else { return 0 }
        return classify(s)
    }

    static func classify(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        if p.isWhitespace { return whitespace }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return 0
        }
    }
}
