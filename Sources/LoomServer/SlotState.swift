import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer

/// One busy slot: where its prompt evaluation stands, prompt logprobs (echo), and its
/// ``GenerationState`` (sampler, detokenizer, stop matcher and the rules that end it, the
/// same ones `Generator.generate` follows).
final class SlotState {
    let job: GenerationJob
    let slot: Int
    private var state: GenerationState
    /// Positions of this slot's KV cache that hold evaluated tokens.
    private(set) var position = 0
    private(set) var isDone = false
    private var lastSegmentCount = 0
    private var promptLogprobs: [(TokenLogprob, [TokenLogprob])] = []
    /// Speculative decoding with prompt-lookup drafts (``BatchScheduler/speculative``), if on.
    private let speculativeOptions: SpeculativeOptions?
    private let lookup: PromptLookup?
    /// The draft tokens of the last segment (after its first token), and whether a row of
    /// it already ended verification (later rows' logits are then not this slot's future).
    private var drafts: [Int] = []
    private var verificationEnded = false
    /// Drafted and accepted tokens of this job.
    private(set) var speculative = SpeculativeStats()
    /// A slot evaluating the same prompt (another choice of the same request): this one waits
    /// for it and copies its keys and values (``BatchScheduler``) instead of evaluating them.
    var leader: SlotState?

    /// Prompt positions a follower copies: all but the last, whose logits it needs.
    var sharedPrefix: Int { job.prompt.count - 1 }

    /// Takes the shared prefix as evaluated (its keys and values were just copied in).
    func adoptSharedPrefix() {
        position = max(position, sharedPrefix)
        leader = nil
    }

    /// - Parameter cachedPrefix: leading prompt tokens already in the slot's KV cache (from
    ///   an earlier request), which the slot starts after.
    init(job: GenerationJob, slot: Int, tokenizer: BPETokenizer, capacity: Int, cachedPrefix: Int = 0,
         contextShift: ContextShift? = nil, speculative: SpeculativeOptions? = nil) throws {
        precondition(cachedPrefix < max(1, job.prompt.count), "at least the last prompt token is evaluated")
        self.job = job
        self.slot = slot
        position = cachedPrefix
        var options = job.options
        options.contextShift = contextShift
        state = try GenerationState(prompt: job.prompt, options: options, tokenizer: tokenizer, capacity: capacity)
        speculativeOptions = speculative
        if let speculative, case let .promptLookup(ngramMin, ngramMax) = speculative.source {
            lookup = PromptLookup(ngramMin: ngramMin, ngramMax: ngramMax)
        } else {
            lookup = nil
        }
    }

    /// Tokens of the answer so far.
    var generatedCount: Int { state.generatedCount }

    /// Whether the prompt is still being evaluated.
    var isPrefilling: Bool { position < job.prompt.count }

    /// Leading prompt tokens whose keys and values the slot's cache holds, computed on the
    /// prompt path (what a later request may start from).
    var evaluatedPromptTokens: Int { min(position, job.prompt.count, keptPromptTokens) }

    /// Prompt tokens still in the cache at their own positions after a context shift (all
    /// until one happens); what a later request may reuse.
    private var keptPromptTokens = Int.max

    /// Whether the next token to evaluate has no position left in a `capacity` context.
    func needsContextShift(capacity: Int) -> Bool {
        !isDone && !isPrefilling && state.tokenToEvaluate != nil && position >= capacity
    }

    /// Records a context shift of the slot's cache: `discard` positions after the first
    /// `keep` are gone and the rest moved down.
    func didShiftContext(keep: Int, discard: Int) {
        position -= discard
        keptPromptTokens = min(keptPromptTokens, keep)
    }

    /// The tokens this slot evaluates in the next step (nil if none fit the prompt budget).
    func nextSegment(promptBudget: Int) -> MultiSequenceBatch.Segment? {
        if isDone || leader != nil { return nil }
        if isPrefilling {
            let count = min(promptBudget, job.prompt.count - position)
            guard count > 0 else { return nil }
            drafts = []
            verificationEnded = false
            lastSegmentCount = count
            return .init(slot: slot, start: position, tokens: Array(job.prompt[position..<position + count]),
                         allLogits: job.promptLogprobs, ropeEnd: job.prompt.count, isPrompt: true)
        }
        guard let token = state.tokenToEvaluate else { return nil }
        drafts = draftTokens()
        verificationEnded = false
        lastSegmentCount = 1 + drafts.count
        if drafts.isEmpty {
            if speculativeOptions != nil { speculative.plainSteps += 1 }
            return .init(slot: slot, start: position, tokens: [token])
        }
        // Every row's logits, each verified in order by ``consume(logits:at:)``, which sets
        // how many rows stay (``advance()``), as `Generator` does for one sequence.
        speculative.verifications += 1
        speculative.drafted += drafts.count
        return .init(slot: slot, start: position, tokens: [token] + drafts, allLogits: true, isDraft: true)
    }

    /// Prompt-lookup drafts after the history: none without speculative decoding, when too
    /// few are found (`draftMin`), or when no room is left before the context's end or
    /// `maxTokens`.
    private func draftTokens() -> [Int] {
        guard let lookup, let options = speculativeOptions else { return [] }
        let room = min(options.draftMax, state.capacity - position - 1, state.options.maxTokens - state.generatedCount - 1)
        let needed = max(1, options.draftMin)
        guard room >= needed else { return [] }
        let found = lookup.draft(context: state.history, count: room)
        return found.count >= needed ? found : []
    }

    /// Records that the last segment's tokens are now in the cache.
    func advance() {
        position += lastSegmentCount
        lastSegmentCount = 0
    }

    /// Handles the logits after the token at cache position `p`.
    func consume(logits: UnsafeBufferPointer<Float>, at p: Int) {
        if isDone { return }
        let prompt = job.prompt
        if p < prompt.count - 1 {
            // Inside the prompt (only reached for prompt logprobs): score the next prompt token.
            let result = Logprobs.top(logits, chosen: prompt[p + 1], n: job.options.topLogprobs)
            promptLogprobs.append((result.chosen, result.top))
            return
        }
        if p == prompt.count - 1 && job.promptLogprobs {
            job.sink(.promptLogprobs(promptLogprobs))
            promptLogprobs = []
        }
        // Rows after the one where a draft was rejected (or the answer ended) are not this
        // slot's future; ``advance()`` keeps only the rows up to it.
        if verificationEnded { return }
        let row = p - position
        let step = state.advance(logits: logits)
        if !drafts.isEmpty {
            if row < drafts.count, step.token?.id == drafts[row] { speculative.accepted += 1 }
            if row >= drafts.count || state.tokenToEvaluate != drafts[row] {
                verificationEnded = true
                lastSegmentCount = row + 1
            }
        }
        if let token = step.token {
            job.sink(.token(JobToken(id: token.id, text: token.text, logprob: token.logprob,
                                     topLogprobs: token.topLogprobs, isEndOfGeneration: token.isEndOfGeneration)))
        }
        if let reason = step.finishReason {
            isDone = true
            if speculativeOptions != nil { job.setSpeculative(speculative) }
            job.sink(.finished(reason, completionTokens: state.generatedCount))
        }
    }

    /// Ends the job because its client went away (the scheduler frees the slot).
    func cancel() {
        guard !isDone else { return }
        isDone = true
        state.cancel()
        job.sink(.finished(state.finishReason ?? .cancelled, completionTokens: state.generatedCount))
    }

    func fail(_ error: Error) {
        guard !isDone else { return }
        isDone = true
        job.sink(.failed(error))
    }
}
