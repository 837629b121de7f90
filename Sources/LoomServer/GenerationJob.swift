import Foundation
import LoomGeneration

/// One sequence to generate, as the scheduler runs it: prompt tokens, generation options,
/// whether prompt-token logprobs are wanted (echo), and where events go.
public final class GenerationJob: @unchecked Sendable {
    /// What the scheduler reports about a job, in order: optionally `promptLogprobs`, then
    /// `token`s, then exactly one `finished` or `failed`.
    public enum Event: Sendable {
        /// Logprob of every prompt token after the first (index 0 is the second token), with
        /// alternatives when `topLogprobs > 0`.
        case promptLogprobs([(TokenLogprob, [TokenLogprob])])
        case token(JobToken)
        case finished(FinishReason, completionTokens: Int)
        case failed(Error)
    }

    public let prompt: [Int]
    public let options: GenerationOptions
    /// Report logprobs of the prompt tokens (OpenAI legacy `echo` + `logprobs`).
    public let promptLogprobs: Bool
    /// LoRA scales this job runs with (adapter id → scale), or nil for the adapters' own.
    public let adapterScales: [Int: Float]?
    /// Whether the job may start from the longest prefix of its prompt a free slot still holds
    /// (llama.cpp's `cache_prompt`, on by default).
    public let cachePrompt: Bool
    private let deliver: @Sendable (Event) -> Void
    private let lock = NSLock()
    private var cancelledFlag = false
    private var cachedTokens = 0
    // Uptime stamps (ns) for ``timings``: slot assigned, first token, finished.
    private var startedAt: UInt64?
    private var firstTokenAt: UInt64?
    private var endedAt: UInt64?
    private var generated = 0
    private var decoded = 0
    private var speculativeStats: SpeculativeStats?

    public init(prompt: [Int], options: GenerationOptions, promptLogprobs: Bool = false, adapterScales: [Int: Float]? = nil,
                cachePrompt: Bool = true, sink: @escaping @Sendable (Event) -> Void) {
        self.prompt = prompt
        self.options = options
        self.promptLogprobs = promptLogprobs
        self.adapterScales = adapterScales
        self.cachePrompt = cachePrompt
        deliver = sink
    }

    /// Prompt tokens taken from a slot's cache instead of evaluated (set when the job gets a
    /// slot, before its first event): OpenAI's `usage.prompt_tokens_details.cached_tokens`.
    public var cachedPromptTokens: Int { lock.withLock { cachedTokens } }
    /// Records the cached prefix when the job gets a slot; its prompt phase starts now.
    func setCachedPromptTokens(_ count: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.withLock { cachedTokens = count; startedAt = now }
    }

    /// Speculative decoding's counts, set before the job finishes (when it ran).
    func setSpeculative(_ stats: SpeculativeStats) { lock.withLock { speculativeStats = stats } }

    /// Hands `event` to the job's owner, stamping the times ``timings`` reports.
    func sink(_ event: Event) {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.withLock {
            switch event {
            case .token: if firstTokenAt == nil { firstTokenAt = now }; decoded += 1
            case .finished(_, let count): endedAt = now; generated = count
            case .failed: endedAt = now
            case .promptLogprobs: break
            }
        }
        deliver(event)
    }

    /// Token events delivered so far (the answer's length while it runs).
    public var decodedTokens: Int { lock.withLock { decoded } }
    /// Whether the job has finished or failed.
    public var hasEnded: Bool { lock.withLock { endedAt != nil } }

    /// What the job took (complete once it has finished); llama-server's `timings`.
    public var timings: JobTimings {
        lock.withLock {
            var t = JobTimings()
            t.cachedTokens = cachedTokens
            t.predictedTokens = generated
            t.speculative = speculativeStats
            guard let start = startedAt else { return t }
            t.promptTokens = max(0, prompt.count - cachedTokens)
            let end = endedAt ?? DispatchTime.now().uptimeNanoseconds
            let first = firstTokenAt ?? end
            t.promptSeconds = Double(first - start) / 1e9
            t.predictedSeconds = Double(end - first) / 1e9
            return t
        }
    }

    /// Asks the scheduler to drop the job (client gone); its slot is freed before the next step.
    public func cancel() { lock.withLock { cancelledFlag = true } }
    public var isCancelled: Bool { lock.withLock { cancelledFlag } }
}

/// One generated token of a job.
public struct JobToken: Sendable {
    public let id: Int
    /// Text that became safe to show with this token (see `GeneratedToken.text`).
    public let text: String
    public let logprob: TokenLogprob?
    public let topLogprobs: [TokenLogprob]
    /// The end-of-generation token that ended the answer (not part of it; `text` holds only
    /// what was still pending).
    public let isEndOfGeneration: Bool
}

/// The `n` jobs of one HTTP request (one per choice, or per prompt × choice), with their
/// events merged into one stream tagged by job index. The stream ends once every job has
/// finished; ending it early (client gone) cancels every job.
final class JobGroup: @unchecked Sendable {
    let jobs: [GenerationJob]
    let events: AsyncStream<(Int, GenerationJob.Event)>

    init(_ specs: [(prompt: [Int], options: GenerationOptions, promptLogprobs: Bool)], adapterScales: [Int: Float]? = nil,
         cachePrompt: Bool = true) {
        var continuation: AsyncStream<(Int, GenerationJob.Event)>.Continuation!
        events = AsyncStream(bufferingPolicy: .unbounded) { continuation = $0 }
        let c = continuation!
        let remaining = Counter(specs.count)
        jobs = specs.enumerated().map { index, spec in
            GenerationJob(prompt: spec.prompt, options: spec.options, promptLogprobs: spec.promptLogprobs,
                          adapterScales: adapterScales, cachePrompt: cachePrompt) { event in
                c.yield((index, event))
                switch event {
                case .finished, .failed:
                    if remaining.decrement() == 0 { c.finish() }
                default: break
                }
            }
        }
        let jobs = self.jobs
        c.onTermination = { _ in jobs.forEach { $0.cancel() } }
    }

    func cancelAll() { jobs.forEach { $0.cancel() } }

    /// The request's `timings`: every job's combined (``JobTimings/init(combining:)``).
    var timings: JobTimings { JobTimings(combining: jobs.map(\.timings)) }

    /// Cached prompt tokens of the request, its jobs taken `choices` at a time (one prompt's
    /// choices): each prompt counts once, with the best of its choices' cache hits.
    func cachedPromptTokens(choicesPerPrompt choices: Int) -> Int {
        stride(from: 0, to: jobs.count, by: max(1, choices)).reduce(0) { total, first in
            total + jobs[first..<min(first + max(1, choices), jobs.count)].map(\.cachedPromptTokens).max()!
        }
    }

    /// A thread-safe countdown.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int
        init(_ value: Int) { self.value = value }
        func decrement() -> Int { lock.withLock { value -= 1; return value } }
    }
}
