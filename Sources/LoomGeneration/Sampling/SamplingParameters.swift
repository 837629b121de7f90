/// Settings of the token sampler, with llama.cpp's defaults and meanings.
///
/// The sampler applies them in llama.cpp's common default order:
/// logit bias → penalties (repetition, frequency, presence) → if `temperature == 0` argmax,
/// otherwise top-k → top-p → min-p → temperature → softmax → random draw.
/// Top-p and min-p therefore see the distribution *before* temperature is applied.
///
/// Decoding (`Codable`) accepts any subset of the fields; missing ones take the defaults
/// below. Decoding does not validate: call ``validated()`` (``Sampler/init(parameters:)``
/// does) before use. Note that JSON cannot carry infinities, so a `-inf` logit bias (a ban)
/// only round-trips through an encoder configured for non-conforming floats.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Softmax temperature; `0` means greedy decoding (argmax, ties to the lowest id).
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; `0` or `-1` turns the filter off.
    public var topK: Int
    /// Nucleus sampling: keep the smallest prefix of the sorted distribution whose cumulative
    /// probability is ≥ `topP`; `1` turns the filter off.
    public var topP: Float
    /// Keep tokens whose probability is ≥ `minP` × the largest probability; `0` turns it off.
    public var minP: Float
    /// Multiplicative penalty on tokens seen in the last ``penaltyLastN`` tokens of the history
    /// (llama.cpp semantics: a logit > 0 is divided by it, a logit ≤ 0 is multiplied); `1` is off.
    public var repetitionPenalty: Float
    /// Subtracted once from the logit of every token seen in the penalty window.
    public var presencePenalty: Float
    /// Subtracted from a token's logit once per occurrence in the penalty window.
    public var frequencyPenalty: Float
    /// Size of the penalty window in tokens: `-1` is the whole history, `0` disables penalties.
    public var penaltyLastN: Int
    /// Seed of the random generator; `nil` picks a random seed (see ``Sampler/seed``).
    public var seed: UInt64?
    /// Added to the logit of each listed token id before anything else; `-.infinity` bans a token.
    public var logitBias: [Int: Float]

    /// Creates parameters; every argument defaults to llama.cpp's default.
    public init(
        temperature: Float = 0.8,
        topK: Int = 40,
        topP: Float = 0.95,
        minP: Float = 0.05,
        repetitionPenalty: Float = 1,
        presencePenalty: Float = 0,
        frequencyPenalty: Float = 0,
        penaltyLastN: Int = 64,
        seed: UInt64? = nil,
        logitBias: [Int: Float] = [:]
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.penaltyLastN = penaltyLastN
        self.seed = seed
        self.logitBias = logitBias
    }

    /// Greedy decoding: temperature 0, every filter and penalty off.
    public static let greedy = SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0)

    /// Returns `self` if every field is usable, otherwise throws a ``SamplingError`` naming the
    /// first bad field.
    ///
    /// Rules: `temperature` finite and ≥ 0; `topK` ≥ -1; `topP` in (0, 1]; `minP` in [0, 1];
    /// `repetitionPenalty` finite and > 0; `presencePenalty` and `frequencyPenalty` finite;
    /// `penaltyLastN` ≥ -1; `logitBias` keys ≥ 0 and values not NaN (±infinity is allowed:
    /// `-inf` bans a token, `+inf` forces it). Comparisons are written so that NaN fails them.
    public func validated() throws -> SamplingParameters {
        func fail(_ field: String, _ value: Any, _ requirement: String) -> SamplingError {
            SamplingError(field: field, value: "\(value)", requirement: requirement)
        }
        guard temperature >= 0, temperature.isFinite else {
            throw fail("temperature", temperature, "must be a finite number ≥ 0 (0 = greedy)")
        }
        guard topK >= -1 else {
            throw fail("topK", topK, "must be ≥ -1 (0 or -1 = off)")
        }
        guard topP > 0, topP <= 1 else {
            throw fail("topP", topP, "must be in (0, 1] (1 = off)")
        }
        guard minP >= 0, minP <= 1 else {
            throw fail("minP", minP, "must be in [0, 1] (0 = off)")
        }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw fail("repetitionPenalty", repetitionPenalty, "must be a finite number > 0 (1 = off)")
        }
        guard presencePenalty.isFinite else {
            throw fail("presencePenalty", presencePenalty, "must be a finite number")
        }
        guard frequencyPenalty.isFinite else {
            throw fail("frequencyPenalty", frequencyPenalty, "must be a finite number")
        }
        guard penaltyLastN >= -1 else {
            throw fail("penaltyLastN", penaltyLastN, "must be ≥ -1 (-1 = whole history, 0 = off)")
        }
        // Sorted so that the reported entry does not depend on dictionary order.
        for (token, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            guard token >= 0 else {
                throw fail("logitBias", "\(token): \(bias)", "token ids must be ≥ 0")
            }
            guard !bias.isNaN else {
                throw fail("logitBias", "\(token): \(bias)", "bias must be a number (±infinity allowed)")
            }
        }
        return self
    }

    /// Checks what ``validated()`` cannot know: that every ``logitBias`` token id is below the
    /// model's vocabulary size. The sampler itself ignores out-of-range ids, so call this where
    /// the vocabulary is known (e.g. when a request arrives) to report them instead.
    public func validate(vocabularySize: Int) throws {
        _ = try validated()
        if let bad = logitBias.keys.filter({ $0 >= vocabularySize }).min() {
            throw SamplingError(
                field: "logitBias", value: "\(bad)",
                requirement: "token ids must be < the vocabulary size \(vocabularySize)")
        }
    }

    public init(from decoder: Decoder) throws {
        let defaults = SamplingParameters()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? defaults.temperature
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? defaults.topK
        topP = try c.decodeIfPresent(Float.self, forKey: .topP) ?? defaults.topP
        minP = try c.decodeIfPresent(Float.self, forKey: .minP) ?? defaults.minP
        repetitionPenalty = try c.decodeIfPresent(Float.self, forKey: .repetitionPenalty) ?? defaults.repetitionPenalty
        presencePenalty = try c.decodeIfPresent(Float.self, forKey: .presencePenalty) ?? defaults.presencePenalty
        frequencyPenalty = try c.decodeIfPresent(Float.self, forKey: .frequencyPenalty) ?? defaults.frequencyPenalty
        penaltyLastN = try c.decodeIfPresent(Int.self, forKey: .penaltyLastN) ?? defaults.penaltyLastN
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
        logitBias = try c.decodeIfPresent([Int: Float].self, forKey: .logitBias) ?? defaults.logitBias
    }
}
