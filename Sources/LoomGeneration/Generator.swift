import Foundation
import LoomKernels
import LoomModels
import LoomTokenizer

/// What to generate and when to stop.
public struct GenerationOptions: Sendable {
    /// Most tokens to generate; generation also stops when the context is full, unless
    /// ``contextShift`` makes room.
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Strings that end generation; no part of them is ever emitted.
    public var stopStrings: [String]
    /// Whether end-of-generation tokens (EOS, EOT, `<|im_end|>`, …) end generation.
    public var stopAtEndOfGeneration: Bool
    /// Alternatives to report per token with its log-probability (0 = none).
    public var topLogprobs: Int
    /// A grammar the answer must follow (GBNF, or compiled from a JSON Schema by
    /// ``JSONSchemaGrammar``); nil for free text. Tokens it rules out are never sampled, and
    /// generation ends when the answer is a complete sentence that nothing may extend.
    public var grammar: Grammar?

    /// What to do when prompt plus answer fill the context: nil stops generation there
    /// (``FinishReason/length``); a ``ContextShift`` drops older tokens and goes on.
    public var contextShift: ContextShift?

    /// Speculative decoding (``SpeculativeOptions``): draft tokens verified in batches under the
    /// same per-token rules (see there for how close the answer is to plain decoding's); nil
    /// generates one token per forward pass.
    public var speculative: SpeculativeOptions?

    public init(maxTokens: Int = 256, sampling: SamplingParameters = SamplingParameters(),
                stopStrings: [String] = [], stopAtEndOfGeneration: Bool = true, topLogprobs: Int = 0,
                grammar: Grammar? = nil) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopAtEndOfGeneration = stopAtEndOfGeneration
        self.topLogprobs = topLogprobs
        self.grammar = grammar
    }
}

/// Why generation ended, in OpenAI's terms.
public enum FinishReason: String, Sendable, Codable {
    /// An end-of-generation token or a stop string.
    case stop
    /// `maxTokens` reached or the context is full.
    case length
    /// The caller's callback asked to stop.
    case cancelled
}

/// One generated token as the caller sees it.
public struct GeneratedToken: Sendable {
    public let id: Int
    /// Text that became safe to show with this token (may be empty while a multi-byte
    /// character or a possible stop string is pending; includes held-back text at the end).
    public let text: String
    /// The token's log-probability under the raw model distribution, when requested.
    public let logprob: TokenLogprob?
    public let topLogprobs: [TokenLogprob]
    /// True for the end-of-generation token that ended the answer: it is not part of the
    /// answer's tokens, and `text` carries only what was still pending.
    public let isEndOfGeneration: Bool
}

/// The outcome of one ``Generator/generate(prompt:options:onToken:)`` call.
public struct GenerationResult: Sendable {
    public let tokens: [Int]
    public let text: String
    public let finishReason: FinishReason
    public let promptTokenCount: Int
    /// Seconds spent evaluating the prompt (time to first token, minus sampling).
    public let promptSeconds: Double
    /// Seconds spent generating after the prompt.
    public let generationSeconds: Double
    /// How many times the context was shifted to make room (``GenerationOptions/contextShift``).
    public var contextShifts = 0
    /// Drafted and accepted tokens, when ``GenerationOptions/speculative`` was set.
    public var speculative: SpeculativeStats?
}

/// Runs the generate loop: prompt evaluation (reusing the cached prefix), then one
/// ``GenerationState`` step per token (sampling, UTF-8-safe detokenisation, stop rules).
///
/// ```swift
/// let generator = Generator(session: try model.makeSession())
/// let result = try generator.generate(prompt: model.tokenizer.encode("Hello"),
///                                     options: GenerationOptions(maxTokens: 32)) { token in
///     print(token.text, terminator: ""); return true
/// }
/// ```
public final class Generator {
    /// The session this generator drives; it belongs to the generator (evaluating other
    /// tokens in it directly makes the cached prefix meaningless: call ``resetCache()``).
    public let session: InferenceSession
    public var model: LanguageModel { session.model }
    /// The tokens whose keys and values the session holds, in order: a new prompt that
    /// starts with some of them (the next turn of a chat) evaluates only the rest.
    public internal(set) var cachedTokens: [Int] = []
    /// Whether reuse is cut to whole prompt chunks (see ``reusablePrefixLength(of:)``); set
    /// by ``loadPromptCache(from:)``.
    public internal(set) var alignsReuseToChunks = false

    /// The draft model for ``SpeculativeOptions/Source/draftModel`` (``attachDraft(session:)``).
    public private(set) var draft: DraftModel?

    public init(session: InferenceSession) {
        self.session = session
    }

    /// Makes `session`'s model the draft model of speculative decoding with
    /// ``SpeculativeOptions/Source/draftModel``; the session belongs to the generator from then on.
    ///
    /// - Throws: ``SpeculativeError/incompatibleDraft(_:)`` when its vocabulary is not this
    ///   model's.
    public func attachDraft(session draftSession: InferenceSession) throws {
        draft = try DraftModel(session: draftSession, target: model)
    }

    /// Records tokens evaluated directly in the session after the cached ones.
    func appendCached(_ tokens: [Int]) {
        cachedTokens += tokens
    }

    /// Forgets the cached prefix (the next prompt is evaluated from scratch).
    public func resetCache() {
        cachedTokens = []
        session.reset()
        draft?.reset()
    }

    /// How many leading tokens of `prompt` the next ``generate(prompt:options:onToken:)``
    /// takes from the cache: the prefix it shares with ``cachedTokens``, less the last two
    /// prompt tokens. With batch-invariant kernels (``KernelOptions/batchInvariant``, the
    /// default) every prompt row gets the same logits however the prompt is chunked. Without
    /// them, after ``loadPromptCache(from:)`` the prefix is cut down to a multiple of the
    /// session's prompt chunk (``InferenceSession/maxBatch`` tokens), so the rest is evaluated
    /// in exactly the chunks a fresh run evaluates it in (the cost is at most one chunk).
    public func reusablePrefixLength(of prompt: [Int]) -> Int {
        var shared = 0
        let limit = min(cachedTokens.count, prompt.count - 2, session.position)
        while shared < limit && cachedTokens[shared] == prompt[shared] { shared += 1 }
        if alignsReuseToChunks && !session.kernelOptions.batchInvariant {
            let chunk = min(InferenceSession.maxBatch, session.capacity)
            shared = min(shared / chunk * chunk, max(0, prompt.count - 1) / chunk * chunk)
        }
        return shared
    }

    /// Moves the session to `prompt`, reusing the longest cached prefix, and returns the
    /// logits after its last token. The rest is evaluated as prompt rows however short it is
    /// (`asPrompt`), so a repeated request gives exactly the logits of a fresh one.
    func evaluatePrompt(_ prompt: [Int]) throws -> UnsafeBufferPointer<Float> {
        let shared = reusablePrefixLength(of: prompt)
        alignsReuseToChunks = false  // later turns of a chat reuse their whole shared prefix
        session.truncate(to: shared)
        cachedTokens = Array(prompt[..<shared])
        let logits = try session.evaluate(Array(prompt[shared...]), asPrompt: true)
        cachedTokens = prompt
        return logits
    }

    /// Generates a continuation of `prompt`. The session's cache is reused for the longest
    /// prefix `prompt` shares with the previous call (so a chat's earlier turns are not
    /// evaluated again). `onToken` is called for every generated token; return `false` to
    /// stop early.
    public func generate(
        prompt: [Int], options: GenerationOptions, onToken: (GeneratedToken) -> Bool = { _ in true }
    ) throws -> GenerationResult {
        // Validates the request before anything is evaluated.
        var state = try GenerationState(prompt: prompt, options: options, tokenizer: model.tokenizer,
                                        capacity: session.capacity)
        if options.speculative?.source == .draftModel && draft == nil { throw SpeculativeError.noDraftModel }
        var text = ""

        let promptStart = Date()
        var logits = try evaluatePrompt(prompt)
        let promptSeconds = Date().timeIntervalSince(promptStart)
        let genStart = Date()
        var shifts = 0
        var speculative: SpeculativeStats?

        if let token = state.advance(logits: logits).token {
            text += token.text
            if !onToken(token) { state.cancel() }
        }
        if let spec = options.speculative {
            speculative = try generateSpeculatively(spec, state: &state, text: &text, shifts: &shifts, onToken: onToken)
        }
        while let next = state.tokenToEvaluate {
            logits = try evaluateNext(next, promptCount: prompt.count, options: options, shifts: &shifts)
            if let token = state.advance(logits: logits).token {
                text += token.text
                if !onToken(token) { state.cancel() }
            }
        }
        return GenerationResult(
            tokens: Array(state.generatedTokens), text: text, finishReason: state.finishReason ?? .length,
            promptTokenCount: prompt.count,
            promptSeconds: promptSeconds, generationSeconds: Date().timeIntervalSince(genStart), contextShifts: shifts,
            speculative: speculative)
    }

    /// One plain step: evaluates the last generated token `next` and returns the logits after
    /// it. When the context is full and ``GenerationOptions/contextShift`` allows, it first
    /// makes room as llama.cpp does: keeps the first tokens and drops half of the rest.
    func evaluateNext(_ next: Int, promptCount: Int, options: GenerationOptions, shifts: inout Int) throws -> UnsafeBufferPointer<Float> {
        if session.position >= session.capacity, let shift = options.contextShift {
            let keep = shift.keptTokens(promptCount: promptCount, capacity: session.capacity)
            let discard = (session.position - keep) / 2
            try session.shiftContext(keep: keep, discard: discard)
            cachedTokens.removeSubrange(keep..<keep + discard)
            shifts += 1
        }
        let logits = try session.evaluate([next])
        cachedTokens.append(next)
        return logits
    }
}

/// Invalid generation requests.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty (no tokens to start from)"
        case let .promptTooLong(tokens, context):
            return "the prompt has \(tokens) tokens but the context holds \(context); shorten it or raise --ctx"
        case let .invalidParameter(message): return message
        }
    }
}
