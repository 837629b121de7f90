import Foundation
import LoomGeneration
import LoomKernels
import LoomModels
import LoomTokenizer

/// Continuous batching: up to `slots` jobs generate together, one batched forward pass
/// (``MultiSequenceBatch``) per step for all of them; queued jobs join free slots between
/// steps; each job keeps its own sampler, detokenizer, stop matcher and KV-cache slot.
///
/// A prompt is evaluated in chunks (at most ``promptChunk`` tokens of prefill per step, so
/// running streams keep flowing while a long prompt is read). The loop runs on its own
/// thread; ``submit(_:)`` and ``GenerationJob/cancel()`` may be called from any thread.
public final class BatchScheduler: @unchecked Sendable {
    public enum SubmitError: Error, Equatable {
        /// The queue is full; try again later.
        case queueFull
        /// The scheduler is shutting down.
        case stopped
    }

    public let model: LanguageModel
    public let slotCount: Int
    /// Positions each slot holds (prompt plus answer).
    public let contextLength: Int
    /// What a slot does when its context fills (see ``ServerConfiguration/contextShift``).
    public let contextShift: ContextShift?
    /// Prompt-lookup speculative decoding for every job (see ``ServerConfiguration/speculative``).
    public let speculative: SpeculativeOptions?
    /// Most jobs waiting for a slot.
    public let queueLimit: Int
    /// Most prompt tokens evaluated per step.
    public let promptChunk: Int
    public let metrics: ServerMetrics

    private let batch: MultiSequenceBatch
    private let condition = NSCondition()
    private var queue: [GenerationJob] = []
    private var slots: [SlotState?]
    private var stopping = false
    private var thread: Thread?
    private var finishedLoop = false
    /// Adapter scales set by `POST /lora-adapters`, applied between steps (the model's
    /// projections must not change while a pass runs).
    private var pendingLoRAScales: [Int: Float] = [:]
    /// Per slot, the prompt prefix its KV cache still holds from the last job it ran (empty
    /// while a job runs in it), and that job's adapter scales: a later job with the same
    /// scales may start after their common prefix (llama.cpp's `cache_prompt`).
    private var cachedPrompts: [[Int]]
    /// Whether reused prefixes are cut to whole prompt chunks (without batch invariance).
    private let alignsReuseToChunks: Bool
    private var cachedScales: [[Int: Float]?]
    /// Drafted and accepted tokens over every finished job (speculative decoding).
    private var speculativeTotals = SpeculativeStats()

    public init(model: LanguageModel, slots: Int, contextLength: Int, queueLimit: Int = 64,
                promptChunk: Int = 256, threads: Int? = nil, metrics: ServerMetrics = ServerMetrics(),
                kernelOptions: KernelOptions = .smallBatchKernels, contextShift: ContextShift? = nil,
                speculative: SpeculativeOptions? = nil) throws {
        if let speculative {
            try speculative.validate()
            guard case .promptLookup = speculative.source else {
                throw GenerationError.invalidParameter("loom serve drafts with --lookup only; a draft model (--model-draft) is not supported by the server")
            }
        }
        self.speculative = speculative
        self.model = model
        self.slotCount = slots
        self.contextLength = contextLength
        self.queueLimit = queueLimit
        self.promptChunk = promptChunk
        self.metrics = metrics
        self.contextShift = contextShift
        self.alignsReuseToChunks = !kernelOptions.batchInvariant
        let pool = ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors)
        batch = try MultiSequenceBatch(model: model, slots: slots, capacity: contextLength,
                                       maxTokens: promptChunk + slots * (1 + (speculative?.draftMax ?? 0)), pool: pool,
                                       options: kernelOptions)
        self.slots = Array(repeating: nil, count: slots)
        cachedPrompts = Array(repeating: [], count: slots)
        cachedScales = Array(repeating: nil, count: slots)
    }

    /// Starts the scheduling thread.
    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "loom.scheduler"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Queues `job`; throws ``SubmitError/queueFull`` when `queueLimit` jobs already wait.
    public func submit(_ job: GenerationJob) throws {
        try submit([job])
    }

    /// Queues `jobs` (the `n` choices of one request) together, or none of them: throws
    /// ``SubmitError/queueFull`` when more than `queueLimit` jobs would then wait for a slot.
    ///
    /// One lock hold for the whole group, so the scheduler admits its jobs in the same step.
    /// Queued one by one, the scheduler could wake between them and prefill the first choice
    /// alone; the next steps then batch different token counts (other kernels, other float
    /// rounding), and a seeded request with `n` > 1 sampled differently from run to run.
    public func submit(_ jobs: [GenerationJob]) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw SubmitError.stopped }
        let freeSlots = slots.reduce(0) { $0 + ($1 == nil ? 1 : 0) }
        guard queue.count + jobs.count - freeSlots <= queueLimit else { throw SubmitError.queueFull }
        queue.append(contentsOf: jobs)
        condition.signal()
    }

    /// What one slot holds now (llama-server's `GET /slots`).
    public struct SlotSnapshot: Sendable {
        public let id: Int
        /// The job generating in it, if any.
        public let job: GenerationJob?
        /// Prompt tokens its KV cache holds for reuse (while idle).
        public let cachedPromptTokens: Int
    }

    /// Every slot's state, taken under the scheduler's lock.
    public var slotSnapshots: [SlotSnapshot] {
        condition.lock()
        defer { condition.unlock() }
        return slots.indices.map { SlotSnapshot(id: $0, job: slots[$0]?.job, cachedPromptTokens: cachedPrompts[$0].count) }
    }

    /// Jobs generating now and jobs waiting.
    public var load: (active: Int, queued: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (slots.compactMap { $0 }.count, queue.count)
    }

    /// Lets running and queued jobs finish, then ends the thread (waits for it).
    public func drainAndStop() {
        condition.lock()
        stopping = true
        condition.signal()
        while !finishedLoop && thread != nil { _ = condition.wait(until: Date().addingTimeInterval(0.05)) }
        condition.unlock()
    }

    // MARK: - Loop

    private func run() {
        while true {
            condition.lock()
            admitQueuedJobs()
            while slots.allSatisfy({ $0 == nil }) && queue.isEmpty {
                if stopping { finishedLoop = true; condition.broadcast(); condition.unlock(); return }
                publishGauges()
                condition.wait()
                admitQueuedJobs()
            }
            publishGauges()
            condition.unlock()
            step()
        }
    }

    /// Sets the scales adapters run with for requests that do not choose their own
    /// (llama.cpp's `POST /lora-adapters`); they apply from the next step. Unknown ids and
    /// non-finite scales are refused before anything changes.
    public func setLoRAScales(_ scales: [Int: Float]) throws {
        condition.lock()
        defer { condition.unlock() }
        try model.validateLoRAScales(scales)   // reads model.loraAdapters, which this lock guards
        pendingLoRAScales.merge(scales) { $1 }
        condition.signal()
    }

    /// The adapters with the scales they run at (pending changes included). The model's own
    /// list is rewritten by the scheduler thread under this lock, so other threads read it here.
    public var loraAdapters: [LoRAAttachment] {
        condition.lock()
        defer { condition.unlock() }
        return model.loraAdapters.map { a in
            pendingLoRAScales[a.id].map { LoRAAttachment(id: a.id, path: a.path, scale: $0, tensorNames: a.tensorNames) } ?? a
        }
    }

    /// Applies `POST /lora-adapters` changes (lock held, between steps).
    private func applyPendingLoRAScales() {
        guard !pendingLoRAScales.isEmpty else { return }
        for (id, scale) in pendingLoRAScales { try? model.setLoRAScale(id: id, scale: scale) }
        pendingLoRAScales = [:]
        // Keys and values computed with the old scales no longer match the model.
        for index in cachedPrompts.indices { cachedPrompts[index] = [] }
    }

    /// The free slot for `job` and how many leading prompt tokens its cache already holds:
    /// the slot with the longest common prefix (computed with the job's adapter scales, and at
    /// most all but the last prompt token, whose logits the job needs); without one, the free
    /// slot whose cached prefix is shortest, keeping the others for later requests.
    ///
    /// With batch-invariant kernels (``KernelOptions/batchInvariant``, the default) every
    /// prompt row gets the same logits however its prompt is chunked, so the whole common
    /// prefix is reused. Without them (``alignsReuseToChunks``) the prefix is cut down to a
    /// multiple of ``promptChunk``: how a prompt row is multiplied then depends on how many
    /// rows share its dispatch, and only the cold request's own chunks give its logits.
    private func chooseSlot(for job: GenerationJob) -> (slot: Int, cachedPrefix: Int)? {
        let free = slots.indices.filter { slots[$0] == nil }
        guard let fallback = free.min(by: { cachedPrompts[$0].count < cachedPrompts[$1].count }) else { return nil }
        // Prompt logprobs need the logits of every prompt position: evaluate it all. With a
        // RoPE scaling that follows the sequence length (dynamic NTK, LongRoPE), cached keys
        // were rotated for the earlier prompt's length, not this one's: no reuse either.
        guard job.cachePrompt, !job.promptLogprobs, model.config.ropeDynamic == nil else { return (fallback, 0) }
        var best = (slot: fallback, cachedPrefix: 0)
        for index in free where cachedScales[index] == job.adapterScales {
            let cached = cachedPrompts[index]
            var common = 0
            let limit = min(cached.count, job.prompt.count - 1)
            while common < limit && cached[common] == job.prompt[common] { common += 1 }
            let aligned = alignsReuseToChunks ? common / promptChunk * promptChunk : common
            if aligned > best.cachedPrefix { best = (index, aligned) }
        }
        return best
    }

    /// Drafted and accepted tokens of speculative decoding over the jobs finished so far.
    public var speculativeStats: SpeculativeStats {
        condition.lock()
        defer { condition.unlock() }
        return speculativeTotals
    }

    /// Records what a slot's cache holds once its job leaves it (lock held).
    private func release(_ slot: SlotState, failed: Bool = false) {
        speculativeTotals.drafted += slot.speculative.drafted
        speculativeTotals.accepted += slot.speculative.accepted
        speculativeTotals.verifications += slot.speculative.verifications
        speculativeTotals.plainSteps += slot.speculative.plainSteps
        slots[slot.slot] = nil
        cachedPrompts[slot.slot] = failed ? [] : Array(slot.job.prompt[..<slot.evaluatedPromptTokens])
        cachedScales[slot.slot] = slot.job.adapterScales
    }

    /// Moves queued jobs into free slots (called with the lock held).
    private func admitQueuedJobs() {
        applyPendingLoRAScales()
        while !queue.isEmpty, slots.contains(where: { $0 == nil }) {
            let job = queue.removeFirst()
            if job.isCancelled { job.sink(.finished(.cancelled, completionTokens: 0)); continue }
            guard let (index, cachedPrefix) = chooseSlot(for: job) else { break }
            do {
                try batch.setAdapterScales(job.adapterScales, slot: index)
                slots[index] = try SlotState(job: job, slot: index, tokenizer: model.tokenizer, capacity: contextLength,
                                             cachedPrefix: cachedPrefix, contextShift: contextShift, speculative: speculative)
            } catch {
                job.sink(.failed(error))
                continue
            }
            job.setCachedPromptTokens(cachedPrefix)
            metrics.recordCachedPromptTokens(cachedPrefix)
            // The job overwrites the cache from its prefix on; nothing else may start from it now.
            cachedPrompts[index] = []
            if let follower = slots[index] { share(follower) }
        }
    }

    /// Lets `slot` take its prompt's keys and values from another slot running the same
    /// prompt with the same adapter scales (the `n` choices of one request, or identical
    /// requests) instead of evaluating it again: copied at once if that slot has evaluated
    /// it, else once it has (``resolveSharing(_:)``). Not with prompt logprobs (each choice
    /// reports them) or a RoPE that depends on the sequence length (as for prefix reuse).
    private func share(_ slot: SlotState) {
        let job = slot.job
        guard slot.position < slot.sharedPrefix, !job.promptLogprobs, model.config.ropeDynamic == nil else { return }
        let candidates = slots.compactMap { $0 }.filter { other in
            other !== slot && other.leader == nil && !other.isDone && other.job.adapterScales == job.adapterScales
                && other.job.prompt.count == job.prompt.count && other.job.prompt == job.prompt
                && (other.isPrefilling || other.evaluatedPromptTokens >= slot.sharedPrefix)
        }
        guard let leader = candidates.max(by: { $0.evaluatedPromptTokens < $1.evaluatedPromptTokens }) else { return }
        slot.leader = leader
        resolveSharing(slot)
    }

    /// Copies a waiting slot's prefix once its leader has evaluated it; lets it evaluate the
    /// prompt itself if the leader ended (or shifted its context) first.
    private func resolveSharing(_ slot: SlotState) {
        guard let leader = slot.leader else { return }
        if leader.evaluatedPromptTokens >= slot.sharedPrefix {
            batch.copyPrefix(from: leader.slot, to: slot.slot, count: slot.sharedPrefix)
            slot.adoptSharedPrefix()
            metrics.recordSharedPromptTokens(slot.sharedPrefix)
        } else if leader.isDone || !leader.isPrefilling {
            slot.leader = nil
        }
    }

    private func publishGauges() {
        let active = slots.compactMap { $0 }
        metrics.setGauges(queue: queue.count, active: active.count,
                          kvTokens: active.reduce(0) { $0 + $1.position }, kvCapacity: slotCount * contextLength)
    }

    /// One batched forward pass over every busy slot, then sampling and event delivery.
    private func step() {
        // Drop cancelled jobs first: their slots are free for the next admission.
        var active: [SlotState] = []
        condition.lock()
        for index in slots.indices {
            guard let slot = slots[index] else { continue }
            if slot.job.isCancelled {
                release(slot)
                slot.cancel()
            } else {
                active.append(slot)
            }
        }
        condition.unlock()
        if active.isEmpty { return }

        // Slots about to decode into a full context shift it first (llama-server's
        // `ctx_shift`): keep the first tokens, drop half of the rest, no re-evaluation.
        for slot in active where slot.needsContextShift(capacity: contextLength) {
            guard let shift = contextShift else { continue }
            let keep = shift.keptTokens(promptCount: slot.job.prompt.count, capacity: contextLength)
            let discard = (slot.position - keep) / 2
            do {
                try batch.shiftContext(slot: slot.slot, filled: slot.position, keep: keep, discard: discard)
                slot.didShiftContext(keep: keep, discard: discard)
            } catch {
                slot.fail(error)
            }
        }

        // A choice waiting for a leader that was cancelled (or failed) evaluates its own prompt.
        for slot in active where slot.leader != nil { resolveSharing(slot) }
        var segments: [MultiSequenceBatch.Segment] = []
        var owners: [SlotState] = []
        var promptBudget = promptChunk
        var promptTokens = 0, decodeTokens = 0
        for slot in active {
            if let segment = slot.nextSegment(promptBudget: promptBudget) {
                if slot.isPrefilling {
                    promptBudget -= segment.tokens.count
                    promptTokens += segment.tokens.count
                }
                segments.append(segment)
                owners.append(slot)
            }
        }
        var finished: [SlotState] = []
        var failed = Set<Int>()
        if !segments.isEmpty {
            let started = Date()
            // Tokens generated by decoding slots in this step: one each (the one that ends an
            // answer too), more with accepted drafts; a prefilling slot's first token counts
            // with its prompt.
            let decoding = owners.filter { !$0.isPrefilling }
            let before = decoding.map(\.generatedCount)
            do {
                try batch.evaluate(segments) { s, i, logits in
                    owners[s].consume(logits: logits, at: segments[s].start + i)
                }
                for slot in owners { slot.advance() }
                for slot in active where slot.leader != nil { resolveSharing(slot) }
            } catch {
                for slot in owners { slot.fail(error); failed.insert(slot.slot) }
            }
            decodeTokens = zip(decoding, before).reduce(0) { $0 + max(1, $1.0.generatedCount - $1.1) }
            metrics.recordStep(promptTokens: promptTokens, generatedTokens: decodeTokens,
                               seconds: Date().timeIntervalSince(started), busySlots: owners.count)
        }
        for slot in active where slot.isDone { finished.append(slot) }
        if !finished.isEmpty {
            condition.lock()
            for slot in finished { release(slot, failed: failed.contains(slot.slot)) }
            admitQueuedJobs()
            condition.unlock()
        }
    }
}
