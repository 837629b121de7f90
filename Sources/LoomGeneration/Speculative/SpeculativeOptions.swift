/// Speculative decoding (``GenerationOptions/speculative``): cheap guesses of the next tokens
/// ("drafts") are checked by the model in one batch, and every guess the model agrees with
/// is a token generated without a step of its own (Leviathan et al. 2023, "Fast Inference
/// from Transformers via Speculative Decoding"; llama.cpp's `--model-draft` and `--lookup`).
///
/// Each verified position's logits go through the same ``GenerationState`` (sampler,
/// penalties, grammar, stop rules) in the same order as without drafts, and a draft token is
/// kept only when that choice equals it. With a temperature above 0 this is speculative
/// sampling with a deterministic draft: a draft token x is kept with probability p(x), and
/// otherwise the token drawn is distributed as p without x, which is exactly the rejection
/// rule of the paper for a draft that puts all its mass on x (the sampler draws once per
/// position, in order, so a seed draws what it draws without drafts).
///
/// The answer equals plain decoding's only as far as the verification batch's logits equal
/// one-token steps': the batch runs the small-batch decode kernels
/// (``LoomModels/InferenceSession/evaluateDraft(_:eachPosition:)``), and on SmolLM2 their
/// log-probs differ from one-token steps' by up to about 0.02, so greedy near-ties closer than
/// that can go the other way. Batch-invariant decode kernels would make the answers identical.
///
/// Where the drafts come from:
/// - ``Source/promptLookup(ngramMin:ngramMax:)``: the tokens that followed the latest earlier
///   occurrence of the context's last n-gram (``PromptLookup``; HF `prompt_lookup_num_tokens`,
///   llama.cpp's `--lookup`); no second model. Pays off when the answer repeats the prompt
///   (editing code, quoting, summarising with citations).
/// - ``Source/draftModel``: a smaller model with the same vocabulary, attached to the
///   generator (``Generator/attachDraft(session:)``), proposes its greedy continuation.
public struct SpeculativeOptions: Sendable, Equatable {
    /// Where draft tokens come from.
    public enum Source: Sendable, Equatable {
        /// Match the last n tokens (n from `ngramMax` down to `ngramMin`) earlier in the context.
        case promptLookup(ngramMin: Int, ngramMax: Int)
        /// The generator's draft model (``Generator/attachDraft(session:)``).
        case draftModel
    }

    public var source: Source
    /// Most draft tokens verified per step (llama.cpp's `--draft-max`).
    public var draftMax: Int
    /// Fewest draft tokens worth a verification batch (llama.cpp's `--draft-min`): a shorter
    /// draft is dropped and the step is a plain one-token step.
    public var draftMin: Int
    /// A draft model stops drafting at a token it gives less than this probability
    /// (llama.cpp's `--draft-p-min`); 0 drafts `draftMax` tokens always.
    public var draftPMin: Float

    /// Defaults: 8 draft tokens at most (llama.cpp drafts 16, see ``draftLimit``), no minimum,
    /// and llama.cpp's `--draft-p-min` of 0.8.
    public init(source: Source, draftMax: Int = 8, draftMin: Int = 0, draftPMin: Float = 0.8) {
        self.source = source
        self.draftMax = draftMax
        self.draftMin = draftMin
        self.draftPMin = draftPMin
    }

    /// Prompt lookup with n-grams of `ngramMax` down to `ngramMin` tokens.
    public static func promptLookup(ngramMin: Int = 1, ngramMax: Int = 3, draftMax: Int = 8, draftMin: Int = 0) -> SpeculativeOptions {
        SpeculativeOptions(source: .promptLookup(ngramMin: ngramMin, ngramMax: ngramMax), draftMax: draftMax, draftMin: draftMin)
    }

    /// The most draft tokens one verification batch may hold: with the last accepted token
    /// that is 15 rows, the most the small-batch decode kernels take. From 16 rows on, products
    /// take the prompt kernels, whose float activations (for most weight formats) would give
    /// logits further from one-token steps' (``InferenceSession/evaluateDraft(_:eachPosition:)``).
    public static let draftLimit = 14

    /// Throws ``GenerationError/invalidParameter(_:)`` naming the first bad setting.
    public func validate() throws {
        guard draftMax >= 1, draftMax <= Self.draftLimit else {
            throw GenerationError.invalidParameter("--draft-max must be in 1…\(Self.draftLimit), got \(draftMax)")
        }
        guard draftMin >= 0, draftMin <= draftMax else {
            throw GenerationError.invalidParameter("--draft-min must be in 0…--draft-max (\(draftMax)), got \(draftMin)")
        }
        guard draftPMin >= 0, draftPMin <= 1 else {
            throw GenerationError.invalidParameter("--draft-p-min must be in 0…1, got \(draftPMin)")
        }
        if case let .promptLookup(ngramMin, ngramMax) = source {
            guard ngramMin >= 1, ngramMax >= ngramMin, ngramMax <= 64 else {
                throw GenerationError.invalidParameter(
                    "--lookup-ngram-min/--lookup-ngram-max must satisfy 1 ≤ min ≤ max ≤ 64, got \(ngramMin) and \(ngramMax)")
            }
        }
    }
}
