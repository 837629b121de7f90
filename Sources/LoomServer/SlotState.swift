import Foundation
import LoomGeneration
import LoomModels
import LoomTokenizer

/// The generation state of one busy slot: where its prompt evaluation stands, its sampler,
/// detokenizer and stop matcher, and the rules that end it (the same rules as
/// `Generator.generate`: end-of-generation token, stop string, max tokens, full context).
final class SlotState {
    let job: GenerationJob
    let slot: Int
    private let tokenizer: BPETokenizer
    private let capacity: Int
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stops: StopSequenceMatcher
    private var history: [Int]
    /// Positions of this slot's KV cache that hold evaluated tokens.
    private(set) var position = 0
    private(set) var generatedCount = 0
    private(set) var isDone = false
    /// The sampled token still to be evaluated (decode phase).
    private var pendingToken: Int?
    private var lastSegmentCount = 0
    private var promptLogprobs: [(TokenLogprob, [TokenLogprob])] = []

    init(job: GenerationJob, slot: Int, tokenizer: BPETokenizer, capacity: Int) throws {
        guard !job.prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard job.prompt.count <= capacity else {
            throw GenerationError.promptTooLong(tokens: job.prompt.count, context: capacity)
        }
        guard job.options.maxTokens >= 0 else {
            throw GenerationError.invalidParameter("max tokens must be ≥ 0, got \(job.options.maxTokens)")
        }
        self.job = job
        self.slot = slot
        self.tokenizer = tokenizer
        self.capacity = capacity
        sampler = try Sampler(parameters: job.options.sampling)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        stops = StopSequenceMatcher(stops: job.options.stopStrings)
        history = job.prompt
    }

    /// Whether the prompt is still being evaluated.
    var isPrefilling: Bool { position < job.prompt.count }

    /// The tokens this slot evaluates in the next step (nil if none fit the prompt budget).
    func nextSegment(promptBudget: Int) -> MultiSequenceBatch.Segment? {
        if isDone { return nil }
        if isPrefilling {
            let count = min(promptBudget, job.prompt.count - position)
            guard count > 0 else { return nil }
            lastSegmentCount = count
            return .init(slot: slot, start: position, tokens: Array(job.prompt[position..<position + count]),
                         allLogits: job.promptLogprobs)
        }
        guard let token = pendingToken else { return nil }
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
        sampleNext(logits)
    }

    func fail(_ error: Error) {
        guard !isDone else { return }
        isDone = true
        job.sink(.failed(error))
    }

    private func finish(_ reason: FinishReason) {
        isDone = true
        pendingToken = nil
        job.sink(.finished(reason, completionTokens: generatedCount))
    }

    private func sampleNext(_ logits: UnsafeBufferPointer<Float>) {
        let options = job.options
        // Prompt plus answer never exceed the context (OpenAI's and llama.cpp's rule).
        guard generatedCount < options.maxTokens && history.count < capacity else {
            finish(.length)
            return
        }
        let id = sampler.sample(logits: logits, history: history)
        var logprob: TokenLogprob?
        var top: [TokenLogprob] = []
        if options.topLogprobs > 0 {
            let result = Logprobs.top(logits, chosen: id, n: options.topLogprobs)
            logprob = result.chosen
            top = result.top
        }
        if options.stopAtEndOfGeneration && tokenizer.endOfGenerationIDs.contains(id) {
            // Text held back as a possible stop-string prefix can no longer become one.
            let tail = stops.append(detokenizer.flush()).emit + stops.flush()
            job.sink(.token(JobToken(id: id, text: tail, logprob: logprob, topLogprobs: top, isEndOfGeneration: true)))
            finish(.stop)
            return
        }
        generatedCount += 1
        history.append(id)
        let (emit, stopped) = stops.append(detokenizer.append(id))
        var piece = emit
        let atLimit = generatedCount == options.maxTokens || history.count >= capacity
        if !stopped && atLimit {
            piece += stops.append(detokenizer.flush()).emit + stops.flush()
        }
        job.sink(.token(JobToken(id: id, text: piece, logprob: logprob, topLogprobs: top, isEndOfGeneration: false)))
        if stopped {
            finish(.stop)
        } else if atLimit {
            finish(.length)
        } else {
            pendingToken = id
        }
    }
}
