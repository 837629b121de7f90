/// What tokenising a dataset did: counts for the run's report.
public struct TokenizationReport: Sendable, Equatable, CustomStringConvertible {
    /// Examples tokenised.
    public var examples = 0
    /// Sequences produced (after chunking raw text and packing).
    public var sequences = 0
    /// Conversations longer than the cutoff, truncated.
    public var truncated = 0
    /// Raw-text documents longer than the cutoff, split into cutoff-long chunks (nothing lost).
    public var chunked = 0
    /// Tokens cut off by truncation.
    public var truncatedTokens = 0
    /// Sequences left with no trained token after truncation (the assistant turns were all
    /// past the cutoff, or a raw-text chunk of one token), dropped.
    public var droppedWithoutTargets = 0
    /// Tokens in all sequences, and those with a trained label.
    public var tokens = 0
    public var trainedTokens = 0

    public init() {}

    public var description: String {
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        var text = "\(count(examples, "example")) → \(count(sequences, "sequence")), \(count(tokens, "token")) (\(trainedTokens) trained)"
        if truncated > 0 { text += "; \(truncated) longer than the cutoff (\(truncatedTokens) tokens cut)" }
        if chunked > 0 { text += "; \(chunked) documents split into cutoff-long chunks" }
        if droppedWithoutTargets > 0 { text += "; \(droppedWithoutTargets) dropped with no assistant token left" }
        return text
    }
}
