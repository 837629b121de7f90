import LoomModels
import LoomTokenizer

/// A smaller model that proposes draft tokens for speculative decoding
/// (``SpeculativeOptions/Source/draftModel``; llama.cpp's `-md/--model-draft`).
///
/// It keeps its own session. Its cache holds the context it last drafted from, draft tokens
/// included; the next call keeps the prefix that still matches the context (the accepted
/// drafts) and rolls back the rest (``InferenceSession/truncate(to:)``), so each step
/// evaluates only the tokens the target model accepted or chose since.
public final class DraftModel {
    /// The draft model's own session.
    public let session: InferenceSession
    /// The tokens whose keys and values the draft session holds, in order.
    public private(set) var cachedTokens: [Int] = []
    /// Ids the target model accepts (its logits' width): drafting stops before any other.
    private let targetVocabulary: Int

    /// Pairs `session`'s model as the draft of `target`.
    ///
    /// - Throws: ``SpeculativeError/incompatibleDraft(_:)`` unless both tokenizers are the
    ///   same vocabulary: the same size, the same token text for every id and the same BOS
    ///   and EOS ids. llama.cpp's `common_speculative_are_compatible` checks the same (it
    ///   tolerates 128 extra ids; here a draft token means one thing in both models or the
    ///   pair is refused).
    public init(session: InferenceSession, target: LanguageModel) throws {
        try Self.checkCompatible(draft: session.model, target: target)
        self.session = session
        targetVocabulary = target.config.vocabularySize
    }

    /// Throws ``SpeculativeError/incompatibleDraft(_:)`` naming the first difference between
    /// the two models' vocabularies.
    public static func checkCompatible(draft: LanguageModel, target: LanguageModel) throws {
        let d = draft.tokenizer, t = target.tokenizer
        let names = "the draft model \(draft.config.name) and the model \(target.config.name)"
        guard d.vocabularySize == t.vocabularySize else {
            throw SpeculativeError.incompatibleDraft(
                "\(names) have vocabularies of \(d.vocabularySize) and \(t.vocabularySize) tokens")
        }
        guard d.bosID == t.bosID, d.eosID == t.eosID else {
            throw SpeculativeError.incompatibleDraft(
                "\(names) have different special tokens (BOS \(d.bosID.map { "\($0)" } ?? "none") vs \(t.bosID.map { "\($0)" } ?? "none"), "
                    + "EOS \(d.eosID.map { "\($0)" } ?? "none") vs \(t.eosID.map { "\($0)" } ?? "none"))")
        }
        for id in 0..<t.vocabularySize where d.piece(id) != t.piece(id) {
            throw SpeculativeError.incompatibleDraft(
                "\(names) have different tokenizers: token \(id) is \"\(d.piece(id))\" in the draft and \"\(t.piece(id))\" in the model")
        }
    }

    /// Forgets the cached context.
    public func reset() {
        cachedTokens = []
        session.reset()
    }

    /// Up to `count` tokens the draft model predicts after `context`, greedily; it stops early
    /// at a token it gives less than `pMin` probability (llama.cpp's `--draft-p-min`), and
    /// at one outside the target's vocabulary. The last draft token is not evaluated.
    public func draft(context: [Int], count: Int, pMin: Float) throws -> [Int] {
        // Room for the context and all but the last draft token.
        let count = min(count, session.capacity - context.count + 1)
        guard count > 0, !context.isEmpty else { return [] }
        var shared = 0
        // At least the last context token is evaluated again, for its logits.
        let limit = min(cachedTokens.count, context.count - 1, session.position)
        while shared < limit && cachedTokens[shared] == context[shared] { shared += 1 }
        session.truncate(to: shared)
        cachedTokens = Array(context[..<shared])
        var logits = try session.evaluate(Array(context[shared...]))
        cachedTokens = context
        var drafts: [Int] = []
        while drafts.count < count {
            let (token, probability) = Self.best(logits)
            if probability < pMin || token >= targetVocabulary { break }
            drafts.append(token)
            if drafts.count == count { break }
            logits = try session.evaluate([token])
            cachedTokens.append(token)
        }
        return drafts
    }

    /// The argmax (ties to the lowest id, as the greedy sampler) and its softmax probability.
    static func best(_ logits: UnsafeBufferPointer<Float>) -> (id: Int, probability: Float) {
        let top = LogitScan.maximum(logits)
        guard top.isFinite, let id = LogitScan.firstIndex(of: top, in: logits) else { return (0, 0) }
        return (id, Float(1 / LogitScan.sumOfExponentials(logits, max: top)))
    }
}

/// Speculative decoding that cannot run as asked.
public enum SpeculativeError: Error, CustomStringConvertible, Equatable {
    /// The draft model's vocabulary is not the target's; the text names the difference.
    case incompatibleDraft(String)
    /// ``SpeculativeOptions/Source/draftModel`` without a draft model attached.
    case noDraftModel

    public var description: String {
        switch self {
        case let .incompatibleDraft(reason): return "speculative decoding: \(reason); use a draft model with the same tokenizer"
        case .noDraftModel:
            return "speculative decoding with a draft model needs one: attach it (Generator.attachDraft, --model-draft)"
        }
    }
}
