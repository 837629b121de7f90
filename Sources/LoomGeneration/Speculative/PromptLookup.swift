/// Prompt-lookup drafts (Saxena 2023, "Prompt Lookup Decoding"; transformers'
/// `PromptLookupCandidateGenerator`, llama.cpp's `--lookup`): when the context's last n
/// tokens occurred earlier in the context, the tokens that followed them there are a likely
/// continuation. Answers that copy from the prompt — a function with one variable renamed,
/// a quoted passage — are mostly such continuations.
///
/// n runs from ``ngramMax`` down to ``ngramMin`` and the first n with a match wins (a longer
/// match is better evidence). Among matches of one n the latest wins (transformers takes the
/// first): in an answer that already copies a passage, the latest occurrence is usually the
/// one being copied.
public struct PromptLookup: Sendable, Equatable {
    public let ngramMin: Int
    public let ngramMax: Int

    public init(ngramMin: Int, ngramMax: Int) {
        self.ngramMin = ngramMin
        self.ngramMax = ngramMax
    }

    /// Up to `count` tokens that followed the latest earlier occurrence of `context`'s last
    /// n tokens, for the largest n in ``ngramMin``…``ngramMax`` that has one; empty when
    /// none does (or `count` is 0).
    public func draft(context: [Int], count: Int) -> [Int] {
        guard count > 0 else { return [] }
        let length = context.count
        return context.withUnsafeBufferPointer { tokens -> [Int] in
            for n in stride(from: min(ngramMax, length - 1), through: ngramMin, by: -1) {
                let suffix = length - n
                // Candidate starts, latest first; an occurrence must leave at least one token
                // after it that is not part of the suffix itself.
                var start = suffix - 1
                while start >= 0 {
                    if tokens[start] == tokens[suffix] {
                        var i = 1
                        while i < n && tokens[start + i] == tokens[suffix + i] { i += 1 }
                        if i == n {
                            let from = start + n
                            let to = min(length, from + count)
                            return Array(tokens[from..<to])
                        }
                    }
                    start -= 1
                }
            }
            return []
        }
    }
}
