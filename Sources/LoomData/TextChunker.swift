/// Splits text into windows of at most `maxTokens` tokens of a model's tokenizer, each
/// starting `maxTokens − overlap` tokens after the previous one, so a fact cut at one
/// boundary is whole in the next window.
///
/// The tokenizer comes in as two functions, so this module does not depend on a model: the
/// CLI passes a GGUF or Hugging Face tokenizer's `encode`/`decode`. Byte-level BPE tokens can
/// end inside a multi-byte character; a window whose decoded text would begin or end with
/// U+FFFD there is shrunk by up to three tokens to a character boundary.
public struct TextChunker: Sendable {
    /// The largest window, in tokens.
    public let maxTokens: Int
    /// Tokens shared by consecutive windows.
    public let overlap: Int
    let encode: @Sendable (String) -> [Int]
    let decode: @Sendable ([Int]) -> String

    /// A chunker; `overlap` must be smaller than `maxTokens`.
    public init(maxTokens: Int, overlap: Int, encode: @escaping @Sendable (String) -> [Int], decode: @escaping @Sendable ([Int]) -> String) throws {
        guard maxTokens >= 1 else { throw DataError("--max-tokens must be at least 1 (got \(maxTokens))") }
        guard overlap >= 0 && overlap < maxTokens else { throw DataError("--overlap must be at least 0 and less than --max-tokens \(maxTokens) (got \(overlap))") }
        self.maxTokens = maxTokens
        self.overlap = overlap
        self.encode = encode
        self.decode = decode
    }

    /// The windows of `text` and their token counts.
    public func chunks(_ text: String) -> [(text: String, tokens: Int)] {
        let ids = encode(text)
        if ids.isEmpty { return [] }
        if ids.count <= maxTokens { return [(text, ids.count)] }
        var out: [(String, Int)] = []
        var start = 0
        while start < ids.count {
            var end = min(ids.count, start + maxTokens)
            var piece = decode(Array(ids[start ..< end]))
            // Shrink a window that ends inside a character (not at the end of the text).
            var shrink = 0
            while end < ids.count && piece.unicodeScalars.last == "\u{FFFD}" && shrink < 3 && end - 1 > start {
                end -= 1
                shrink += 1
                piece = decode(Array(ids[start ..< end]))
            }
            var from = start
            var skip = 0
            while from > 0 && piece.unicodeScalars.first == "\u{FFFD}" && skip < 3 && from + 1 < end {
                from += 1
                skip += 1
                piece = decode(Array(ids[from ..< end]))
            }
            out.append((piece, end - from))
            if end >= ids.count { break }
            start = max(start + 1, end - overlap)
        }
        return out
    }
}
