import LoomTokenizer

/// The per-token rules of generation, in one place: sampling with the token history, top
/// logprobs, the end-of-generation token, stop strings, `maxTokens` and the context limit.
///
/// It owns the sampler, the streaming detokenizer, the stop-string matcher, the history
/// (prompt plus answer) and the counters; it never evaluates the model. Its caller evaluates
/// the prompt, hands the logits after the last prompt token to ``advance(logits:)``, reports
/// the returned token, evaluates ``tokenToEvaluate`` and repeats with the new logits until
/// ``isFinished``. ``Generator/generate(prompt:options:onToken:)`` drives it with one
/// ``InferenceSession``; the server drives one per slot of a batched forward pass.
///
/// ```swift
/// var state = try GenerationState(prompt: prompt, options: options,
///                                 tokenizer: model.tokenizer, capacity: session.capacity)
/// var logits = try session.evaluate(prompt)
/// while true {
///     if let token = state.advance(logits: logits).token { print(token.text, terminator: "") }
///     guard let next = state.tokenToEvaluate else { break }
///     logits = try session.evaluate([next])
/// }
/// ```
///
/// The rules, per call of ``advance(logits:)``:
/// 1. If `maxTokens` tokens were generated, or prompt plus answer fill the context (OpenAI's and
///    llama.cpp's rule: they never exceed it), generation ends with ``FinishReason/length``
///    without sampling (only reachable on the first call: `maxTokens` 0, or a prompt that
///    fills the context).
/// 2. A token is sampled from `logits` with the history as penalty window; its logprob and
///    the top alternatives are computed when ``GenerationOptions/topLogprobs`` > 0. With a
///    ``GenerationOptions/grammar``, a token the grammar rules out is replaced by a draw from
///    the logits masked to the allowed tokens (see ``GrammarConstraint``); when the answer is
///    a complete sentence nothing may extend, generation ends with ``FinishReason/stop``
///    without sampling, and if no token can continue the grammar it ends with
///    ``FinishReason/stop`` too.
/// 3. An end-of-generation token (when ``GenerationOptions/stopAtEndOfGeneration``) ends
///    generation with ``FinishReason/stop``; it is not part of the answer, and its event
///    carries the text still held back (a partial character or a possible stop-string prefix,
///    which can no longer become one).
/// 4. Otherwise the token joins the answer and its text goes through the stop matcher. A
///    completed stop string ends generation with ``FinishReason/stop`` (no part of it is
///    emitted). A token that reaches `maxTokens` or fills the context ends it with
///    ``FinishReason/length``, and its event carries all held-back text.
public struct GenerationState {
    /// What one ``GenerationState/advance(logits:)`` call produced.
    public struct Step: Sendable {
        /// The token to report, if one was sampled (also the end-of-generation token that
        /// ended the answer, see ``GeneratedToken/isEndOfGeneration``).
        public let token: GeneratedToken?
        /// Why generation ended with this step; nil while it goes on.
        public let finishReason: FinishReason?
    }

    /// The options this generation follows.
    public let options: GenerationOptions
    /// Positions the context holds: prompt plus answer never exceed it.
    public let capacity: Int
    /// The number of prompt tokens at the start of ``history``.
    public let promptCount: Int
    /// Prompt followed by the tokens generated so far (the sampler's penalty window).
    public private(set) var history: [Int]
    /// Why generation ended, once it has.
    public private(set) var finishReason: FinishReason?
    /// The last generated token, still to be evaluated before the next ``advance(logits:)``.
    public private(set) var tokenToEvaluate: Int?

    private let endOfGenerationIDs: Set<Int>
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stops: StopSequenceMatcher
    private var constraint: GrammarConstraint?
    /// The id reported on the event that ends a grammar-complete answer.
    private let grammarEndID: Int
    /// Scratch copy of the logits with the grammar's mask applied.
    private var masked: [Float] = []

    /// Validates the request and prepares generation after `prompt`.
    ///
    /// - Throws: ``GenerationError`` for a negative `maxTokens`, an empty prompt or one longer
    ///   than `capacity`; ``SamplingError`` naming the first invalid sampling parameter.
    public init(prompt: [Int], options: GenerationOptions, tokenizer: BPETokenizer, capacity: Int) throws {
        guard options.maxTokens >= 0 else {
            throw GenerationError.invalidParameter("max tokens must be ≥ 0, got \(options.maxTokens)")
        }
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard prompt.count <= capacity else {
            throw GenerationError.promptTooLong(tokens: prompt.count, context: capacity)
        }
        try options.contextShift?.validate(capacity: capacity)
        try options.speculative?.validate()
        // The sampler validates its parameters (SamplingParameters.validated()).
        sampler = try Sampler(parameters: options.sampling)
        self.options = options
        self.capacity = capacity
        promptCount = prompt.count
        history = prompt
        endOfGenerationIDs = tokenizer.endOfGenerationIDs
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        stops = StopSequenceMatcher(stops: options.stopStrings)
        grammarEndID = tokenizer.eosID ?? tokenizer.endOfGenerationIDs.min() ?? 0
        constraint = options.grammar.map { GrammarConstraint(grammar: $0, tokenizer: tokenizer) }
    }

    /// Whether generation has ended (``finishReason`` is set).
    public var isFinished: Bool { finishReason != nil }

    /// The tokens of the answer so far (end-of-generation tokens are never part of it).
    public var generatedTokens: ArraySlice<Int> { history[promptCount...] }

    /// How many tokens the answer has.
    public var generatedCount: Int { history.count - promptCount }

    /// The seed the sampler draws with (the requested one, or the random one it picked).
    public var seed: UInt64 { sampler.seed }

    /// Applies the rules above to the logits after the last evaluated token (the prompt's
    /// last token on the first call, ``tokenToEvaluate`` after that). After the end it does
    /// nothing and returns no token.
    public mutating func advance(logits: UnsafeBufferPointer<Float>) -> Step {
        if let finishReason { return Step(token: nil, finishReason: finishReason) }
        tokenToEvaluate = nil
        if let constraint, constraint.mustEnd { return endByGrammar() }
        guard !isAtLimit else { return finish(.length, token: nil) }
        var id = sampler.sample(logits: logits, history: history)
        if constraint != nil {
            guard let allowed = constrain(id, logits) else { return endByGrammar() }
            id = allowed
        }
        var logprob: TokenLogprob?
        var top: [TokenLogprob] = []
        if options.topLogprobs > 0 {
            let result = Logprobs.top(logits, chosen: id, n: options.topLogprobs)
            logprob = result.chosen
            top = result.top
        }
        if options.stopAtEndOfGeneration && endOfGenerationIDs.contains(id) {
            let token = GeneratedToken(id: id, text: flushHeldBack(), logprob: logprob, topLogprobs: top,
                                       isEndOfGeneration: true)
            return finish(.stop, token: token)
        }
        history.append(id)
        let (emit, stopped) = stops.append(detokenizer.append(id))
        if stopped {
            return finish(.stop, token: GeneratedToken(id: id, text: emit, logprob: logprob, topLogprobs: top,
                                                       isEndOfGeneration: false))
        }
        if isAtLimit {
            let token = GeneratedToken(id: id, text: emit + flushHeldBack(), logprob: logprob, topLogprobs: top,
                                       isEndOfGeneration: false)
            return finish(.length, token: token)
        }
        tokenToEvaluate = id
        return Step(token: GeneratedToken(id: id, text: emit, logprob: logprob, topLogprobs: top, isEndOfGeneration: false),
                    finishReason: nil)
    }

    /// Array convenience for ``advance(logits:)-(UnsafeBufferPointer<Float>)``.
    public mutating func advance(logits: [Float]) -> Step {
        logits.withUnsafeBufferPointer { advance(logits: $0) }
    }

    /// Ends generation because the caller stopped it (a callback said so, the client left).
    ///
    /// An answer that ended itself (``FinishReason/stop``: stop string or end-of-generation
    /// token) keeps that reason; one that ended by length at the same token the caller
    /// declined reports ``FinishReason/cancelled``, as the caller asked to stop there.
    public mutating func cancel() {
        guard finishReason != .stop else { return }
        finishReason = .cancelled
        tokenToEvaluate = nil
    }

    /// The grammar's choice: `sampled` if it is allowed, otherwise a new draw from the logits
    /// masked to the allowed tokens (the best allowed raw logit if the sampler's own fallback
    /// lands outside them). Nil when no token can continue the grammar.
    private mutating func constrain(_ sampled: Int, _ logits: UnsafeBufferPointer<Float>) -> Int? {
        guard var constraint else { return sampled }
        defer { self.constraint = constraint }
        var id = sampled
        if !constraint.allows(id) {
            let allowed = constraint.allowedTokens()
            if masked.count != logits.count { masked = [Float](repeating: 0, count: logits.count) }
            var best: Int?
            for i in 0..<logits.count {
                masked[i] = allowed[i] ? logits[i] : -.infinity
                if allowed[i], best == nil || logits[i] > logits[best!] { best = i }
            }
            guard let best else { return nil }
            id = sampler.sample(logits: masked, history: history)
            if !allowed[id] { id = best }
        }
        constraint.accept(id)
        return id
    }

    /// Ends generation because the grammar admits no further token. Held-back text comes out
    /// in an end-of-generation event carrying the tokenizer's EOS id (no token was sampled).
    private mutating func endByGrammar() -> Step {
        let text = flushHeldBack()
        guard !text.isEmpty else { return finish(.stop, token: nil) }
        return finish(.stop, token: GeneratedToken(id: grammarEndID, text: text, logprob: nil, topLogprobs: [],
                                                   isEndOfGeneration: true))
    }

    /// `maxTokens` reached, or prompt plus answer fill the context (which a context shift
    /// empties again instead).
    private var isAtLimit: Bool {
        generatedCount >= options.maxTokens || (options.contextShift == nil && history.count >= capacity)
    }

    /// The text held back by the detokenizer (an incomplete character) and the stop matcher
    /// (a possible stop-string prefix), which can no longer change once generation ends.
    private mutating func flushHeldBack() -> String {
        stops.append(detokenizer.flush()).emit + stops.flush()
    }

    private mutating func finish(_ reason: FinishReason, token: GeneratedToken?) -> Step {
        finishReason = reason
        tokenToEvaluate = nil
        return Step(token: token, finishReason: reason)
    }
}
