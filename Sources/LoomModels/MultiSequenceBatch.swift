import LoomKernels

/// The evaluation state of several independent sequences ("slots") sharing one model, and a
/// forward pass that runs tokens of many slots together (``DecoderForward`` with one KV cache
/// per slot).
///
/// One ``evaluate(_:logits:)`` call takes any mix of segments (a prompt chunk of one slot,
/// the next token of several others) and runs them as a single batch through every layer,
/// so each weight matrix is read once per call for all of them: continuous batching turns
/// memory-bound decoding into throughput. Attention of each token covers its own slot's
/// cache only.
///
/// Not thread-safe: one caller (a scheduler thread) drives it.
public final class MultiSequenceBatch {
    public typealias Segment = SequenceSegment

    public let model: LanguageModel
    /// Number of independent sequences.
    public let slotCount: Int
    /// Positions each slot's KV cache holds.
    public let capacity: Int
    /// Most tokens (over all segments) one call may evaluate.
    public let maxTokens: Int
    public let pool: ThreadPool

    let caches: [KVCache]
    private let forward: DecoderForward

    /// Creates `slots` sequences of `capacity` positions each; one call evaluates at most
    /// `maxTokens` tokens. KV memory is reserved but only becomes resident as it is used.
    /// `options` picks kernels (``KernelOptions``; tests compare paths with it); the caches
    /// store `cacheTypes` (default: the model's ``LanguageModel/cacheTypes``).
    public init(model: LanguageModel, slots: Int, capacity: Int, maxTokens: Int = 512, pool: ThreadPool,
                options: KernelOptions = .default, cacheTypes: KVCacheTypes? = nil) throws {
        guard slots > 0, capacity > 0, maxTokens > 0 else {
            throw ModelError.invalidMetadata(key: "batch shape", reason: "slots \(slots), capacity \(capacity) and maxTokens \(maxTokens) must be positive", path: model.path)
        }
        self.model = model
        self.slotCount = slots
        self.capacity = capacity
        self.maxTokens = maxTokens
        self.pool = pool
        let c = model.config
        let types = cacheTypes ?? model.cacheTypes
        try types.check(headDim: c.headDim, path: model.path)
        try MemoryPlan.checkKVCache(layers: c.layerCount, positions: capacity, rowSize: c.kvHeadCount * c.headDim, types: types,
                                    slots: slots)
        caches = (0..<slots).map { _ in KVCache(layers: c.layerCount, capacity: capacity, rowSize: c.kvHeadCount * c.headDim, types: types) }
        forward = DecoderForward(model: model, maxRows: maxTokens, pool: pool, options: options)
    }

    /// Gives `slot` its own LoRA scales (adapter id → scale; 0 turns an adapter off for it),
    /// for requests that pick adapters (llama.cpp's per-request `"lora"`): rows of other slots
    /// in the same batch keep theirs. Adapters not listed keep their attachment's scale; nil
    /// or empty clears the slot's choice.
    public func setAdapterScales(_ scales: [Int: Float]?, slot: Int) throws {
        guard (0..<slotCount).contains(slot) else {
            throw ModelError.invalidMetadata(key: "slot", reason: "\(slot) is outside 0..<\(slotCount)", path: model.path)
        }
        try model.validateLoRAScales(scales ?? [:])
        if let scales, !scales.isEmpty { forward.slotAdapterScales[slot] = scales } else { forward.slotAdapterScales[slot] = nil }
    }

    /// llama.cpp's context shift on slot `slot`, whose cache holds `filled` positions: keeps
    /// `keep`, drops the `discard` after them and moves the rest down (see
    /// ``InferenceSession/shiftContext(keep:discard:)``). The slot's next position is then
    /// `filled - discard`.
    public func shiftContext(slot: Int, filled: Int, keep: Int, discard: Int) throws {
        guard (0..<slotCount).contains(slot), filled <= capacity else {
            throw ModelError.invalidMetadata(key: "slot", reason: "\(slot) is outside 0..<\(slotCount) or \(filled) past \(capacity)",
                                             path: model.path)
        }
        try model.shiftContext(of: caches[slot], filled: filled, keep: keep, discard: discard)
    }

    /// Copies slot `source`'s first `count` positions into slot `target` (the `n` choices of
    /// one prompt share its evaluation; ``KVCache/copyPrefix(from:count:)``).
    public func copyPrefix(from source: Int, to target: Int, count: Int) {
        caches[target].copyPrefix(from: caches[source], count: count)
    }

    /// Bytes of KV cache reserved over all slots.
    public var kvByteCount: Int { caches.reduce(0) { $0 + $1.byteCount } }

    /// Evaluates every segment in one batched forward pass. Each segment's tokens are
    /// written into its slot's cache at positions `start ..< start + tokens.count` (the
    /// positions before `start` must hold that slot's earlier tokens). `logits` receives,
    /// segment by segment in order, (segment index, token index within the segment, logits)
    /// for the last token of each segment, or for every token if the segment asks for all;
    /// the buffer is only valid during the call.
    public func evaluate(
        _ segments: [Segment], logits body: (Int, Int, UnsafeBufferPointer<Float>) -> Void
    ) throws {
        try forward.validate(segments, caches: caches)
        forward.run(segments, caches: caches)
        // (segment, token index, batch row) of every wanted row, in order.
        var wanted: [(segment: Int, token: Int, row: Int)] = []
        var row = 0
        for (s, segment) in segments.enumerated() {
            let count = segment.tokens.count
            if segment.allLogits {
                for i in 0..<count { wanted.append((s, i, row + i)) }
            } else {
                wanted.append((s, count - 1, row + count - 1))
            }
            row += count
        }
        // Each row's LM head takes the arithmetic of its kind of row (DecoderForward.logits).
        forward.logits(rows: wanted.map(\.row)) { i, logits in
            body(wanted[i].segment, wanted[i].token, logits)
        }
    }
}
