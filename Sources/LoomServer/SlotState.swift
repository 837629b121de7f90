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

    /// - Parameter cachedPrefix: leading prompt tokens already in the slot's KV cache (from
    ///   an earlier request), which the slot starts after.
    init(job: GenerationJob, slot: Int, tokenizer: BPETokenizer, capacity: Int, cachedPrefix: Int = 0,
         contextShift: ContextShift? = nil) throws {
        precondition(cachedPrefix < max(1, job.prompt.count), "at least the last prompt token is evaluated")
        self.job = job
        self.slot = slot
        position = cachedPrefix
        var options = job.options
        options.contextShift = contextShift
        state = try GenerationState(prompt: job.prompt, options: options, tokenizer: tokenizer, capacity: capacity)
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
        if isDone { return nil }
        if isPrefilling {
            let count = min(promptBudget, job.prompt.count - position)
            guard count > 0 else { return nil }
            lastSegmentCount = count
            return .init(slot: slot, start: position, tokens: Array(job.prompt[position..<position + count]),
                         allLogits: job.promptLogprobs, ropeEnd: job.prompt.count, isPrompt: true)
        }
        guard let token = state.tokenToEvaluate else { return nil }
        lastSegmentCount = 1
        return .init(slot: slot, start: position, tokens: [token])
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
        let step = state.advance(logits: logits)
        if let token = step.token {
            job.sink(.token(JobToken(id: token.id, text: token.text, logprob: token.logprob,
                                     topLogprobs: token.topLogprobs, isEndOfGeneration: token.isEndOfGeneration)))
        }
        if let reason = step.finishReason {
            isDone = true
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
