/// What speculative decoding did in one generation (``GenerationResult/speculative``).
public struct SpeculativeStats: Sendable, Equatable, Codable {
    /// Draft tokens the model verified.
    public var drafted = 0
    /// Verified draft tokens the model agreed with (each one a token without a step of its own).
    public var accepted = 0
    /// Verification batches (the last accepted token plus its drafts, one forward pass each).
    public var verifications = 0
    /// One-token steps, taken when no draft of at least `draftMin` tokens was found.
    public var plainSteps = 0
    /// Seconds spent producing drafts (n-gram search, draft model), part of the generation time.
    public var draftSeconds = 0.0

    public init() {}

    /// The share of drafted tokens that were accepted (0 when nothing was drafted).
    public var acceptanceRate: Double { drafted == 0 ? 0 : Double(accepted) / Double(drafted) }

    /// Forward passes of the model after the prompt: verification batches and one-token steps.
    public var steps: Int { verifications + plainSteps }

    /// Tokens generated per forward pass, for an answer of `generated` tokens: plain decoding
    /// gets one. The first token comes from the prompt's pass and is not counted.
    public func tokensPerStep(generated: Int) -> Double {
        steps == 0 ? 0 : Double(max(0, generated - 1)) / Double(steps)
    }
}
