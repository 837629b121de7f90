/// A token id with its log-probability (natural log), as reported in OpenAI-style `logprobs`.
public struct TokenLogprob: Sendable, Equatable, Codable {
    /// Token id in the model's vocabulary.
    public var id: Int
    /// Natural-log probability; `-infinity` for a token the model gives probability 0.
    public var logprob: Float

    /// Creates an entry.
    public init(id: Int, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}
