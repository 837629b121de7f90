/// Turns a stream of token ids into text piece by piece, emitting only complete UTF-8 so a
/// character split across tokens (emoji, CJK, accented letters in byte-level BPE) is never
/// shown half-formed. The concatenation of everything `append` and `flush` return equals
/// `tokenizer.decode(allIDs, skipSpecial:)`.
public struct StreamingDetokenizer {
    private let tokenizer: BPETokenizer
    private let skipSpecial: Bool
    /// Bytes received but not yet emitted: at most an incomplete (so far valid) scalar.
    private var pending: [UInt8] = []

    /// - Parameter skipSpecial: drop control tokens, as `decode(_:skipSpecial:)` does.
    public init(tokenizer: BPETokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token and returns the text that became complete (possibly empty).
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
        let keep = Self.incompleteSuffixLength(pending)
        if keep == pending.count { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Returns whatever is still held back (an unfinished sequence decodes to U+FFFD) and resets.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the trailing bytes that start a multi-byte scalar which more bytes could still
    /// complete. Cutting before such a lead byte is safe: a lead byte always ends any earlier
    /// ill-formed sequence, so decoding the two parts separately gives the same text.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // The lead byte of an incomplete scalar is among the last three bytes.
        var i = n - 1
        while i >= 0 && i >= n - 3 {
            let b = bytes[i]
            if b < 0x80 { return 0 }
            if b >= 0xC0 {
                let need: Int
                switch b {
                case 0xC2 ... 0xDF: need = 2
                case 0xE0 ... 0xEF: need = 3
                case 0xF0 ... 0xF4: need = 4
                default: return 0  // C0, C1, F5...FF never start a scalar
                }
                let have = n - i
                guard have < need else { return 0 }
                // The second byte has a narrower range after E0, ED, F0 and F4.
                if have >= 2 {
                    let b1 = bytes[i + 1]
                    let lo: UInt8 = b == 0xE0 ? 0xA0 : (b == 0xF0 ? 0x90 : 0x80)
                    let hi: UInt8 = b == 0xED ? 0x9F : (b == 0xF4 ? 0x8F : 0xBF)
                    guard b1 >= lo && b1 <= hi else { return 0 }
                }
                if have >= 3 && (bytes[i + 2] & 0xC0) != 0x80 { return 0 }
                return have
            }
            i -= 1
        }
        return 0
    }
}
