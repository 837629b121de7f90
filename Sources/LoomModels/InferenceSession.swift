import LoomKernels

/// The evaluation state of one sequence: its KV cache and position, and the decoder's
/// forward pass over them (``DecoderForward`` with a single slot).
///
/// Prompts are processed in batches of up to ``maxBatch`` tokens so every weight row is
/// read once per batch rather than once per token.
public final class InferenceSession {
    public let model: LanguageModel
    /// Positions the KV cache can hold.
    public let capacity: Int
    /// Tokens evaluated so far (the next token's position).
    public internal(set) var position = 0
    public let pool: ThreadPool
    /// The kernel choices of every product (``KernelOptions``).
    public let kernelOptions: KernelOptions
    /// Largest number of tokens run through the layers together.
    public static let maxBatch = 512

    let cache: KVCache
    let forward: DecoderForward

    init(model: LanguageModel, capacity: Int, pool: ThreadPool, options: KernelOptions, cacheTypes: KVCacheTypes) {
        self.model = model
        self.capacity = capacity
        self.pool = pool
        kernelOptions = options
        let c = model.config
        cache = KVCache(layers: c.layerCount, capacity: capacity, rowSize: c.kvHeadCount * c.headDim, types: cacheTypes)
        forward = DecoderForward(model: model, maxRows: min(Self.maxBatch, capacity), pool: pool, options: options)
    }

    /// The KV cache's storage types.
    public var cacheTypes: KVCacheTypes { cache.types }

    /// Forgets every evaluated token.
    public func reset() { position = 0 }

    /// Drops positions from `newPosition` on (keeps a shared prefix for reuse).
    public func truncate(to newPosition: Int) {
        position = max(0, min(position, newPosition))
    }

    /// Makes room at the end of a full context without evaluating anything again (llama.cpp's
    /// context shift): keeps the first `keep` positions, drops the `discard` after them, and
    /// moves the rest down, their keys re-rotated by the position delta. ``position`` goes
    /// down by `discard`.
    ///
    /// - Throws: ``ModelError/invalidMetadata(key:reason:path:)`` when `keep`/`discard` do
    ///   not fit the evaluated positions, or when the model's RoPE frequencies depend on the
    ///   sequence length (dynamic NTK, LongRoPE), where a rotation by the delta is not the
    ///   rotation the moved keys would get.
    public func shiftContext(keep: Int, discard: Int) throws {
        try model.shiftContext(of: cache, filled: position, keep: keep, discard: discard)
        position -= discard
    }

    /// Speculative decoding's verification step: evaluates `tokens` (the last accepted token
    /// followed by draft tokens, at most ``maxBatch``) at the next positions in one batch and
    /// passes every position's index and logits to `eachPosition`, in order, until it returns
    /// false. ``position`` moves past all of `tokens`; the caller then drops the rejected ones
    /// with ``truncate(to:)`` (their keys and values are simply overwritten later).
    ///
    /// The rows are decode rows (``SequenceSegment/isDraft``, ``BatchRows/decode``): with the
    /// session's ``KernelOptions/batchInvariant`` (the default) each gets exactly the logits a
    /// one-token ``evaluate(_:asPrompt:eachPosition:)`` of it would, so verified tokens are
    /// those plain decoding picks. Without it the small-batch kernels round differently (on
    /// SmolLM2 Q4_1 log-probs moved by up to about 0.02).
    ///
    /// - Throws: ``ModelError`` for an empty batch, one longer than ``maxBatch``, a token
    ///   outside the vocabulary or positions past ``capacity``; the session is then unchanged.
    public func evaluateDraft(_ tokens: [Int], eachPosition: (Int, UnsafeBufferPointer<Float>) -> Bool) throws {
        let segment = SequenceSegment(slot: 0, start: position, tokens: tokens, isDraft: true)
        try forward.validate([segment], caches: [cache])
        forward.run([segment], caches: [cache])
        position += tokens.count
        var going = true
        var next = 0
        // LM-head rows in blocks (one weight read per block), so that a rejection early in a
        // long draft does not pay for the logits of every later row.
        while going && next < tokens.count {
            let count = min(DecoderForward.logitRows, tokens.count - next)
            forward.logits(rows: Array(next..<next + count)) { i, logits in
                if going { going = eachPosition(next + i, logits) }
            }
            next += count
        }
    }

    /// Evaluates `tokens` at the next positions and returns the logits after the last one
    /// (valid until the next call, and only while the session is alive: the buffer is the
    /// session's, so copy it before a temporary session is released). If `eachPosition` is given it receives, in order, every
    /// position's index within `tokens` and its logits.
    ///
    /// `asPrompt`: whether the tokens are prompt rows (``BatchRows/prompt``) or a generated
    /// token (``BatchRows/decode``), which decides the arithmetic they get; nil means prompt
    /// rows for several tokens or when every position is scored, a decode row for one token.
    /// Pass `true` for a prompt's remainder after a reused prefix, so that it gets the
    /// logits of the same prompt evaluated whole, however short the remainder is.
    @discardableResult
    public func evaluate(
        _ tokens: [Int], asPrompt: Bool? = nil, eachPosition: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil
    ) throws -> UnsafeBufferPointer<Float> {
        let isPrompt = asPrompt ?? (tokens.count > 1 || eachPosition != nil)
        let whole = SequenceSegment(slot: 0, start: position, tokens: tokens, isPrompt: isPrompt)
        // Checked whole before any chunk runs, so a bad token leaves the session unchanged.
        try forward.validate([whole], caches: [cache], chunked: true)
        var start = 0
        var lastRow = 0
        while start < tokens.count {
            let count = min(forward.maxRows, tokens.count - start)
            forward.run([SequenceSegment(slot: 0, start: position, tokens: Array(tokens[start..<start + count]),
                                         ropeEnd: whole.start + tokens.count, isPrompt: isPrompt)], caches: [cache])
            position += count
            if let eachPosition {
                forward.logits(rows: Array(0..<count)) { i, logits in eachPosition(start + i, logits) }
            }
            lastRow = count - 1
            start += count
        }
        var last = UnsafeBufferPointer<Float>(start: nil, count: 0)
        forward.logits(rows: [lastRow]) { _, logits in last = logits }
        return last
    }
}
