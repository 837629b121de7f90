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
    public private(set) var position = 0
    public let pool: ThreadPool
    /// Largest number of tokens run through the layers together.
    public static let maxBatch = 512

    let cache: KVCache
    private let forward: DecoderForward

    init(model: LanguageModel, capacity: Int, pool: ThreadPool, options: KernelOptions) {
        self.model = model
        self.capacity = capacity
        self.pool = pool
        let c = model.config
        cache = KVCache(layers: c.layerCount, capacity: capacity, rowSize: c.kvHeadCount * c.headDim)
        forward = DecoderForward(model: model, maxRows: min(Self.maxBatch, capacity), pool: pool, options: options)
    }

    /// Forgets every evaluated token.
    public func reset() { position = 0 }

    /// Drops positions from `newPosition` on (keeps a shared prefix for reuse).
    public func truncate(to newPosition: Int) {
        position = max(0, min(position, newPosition))
    }

    /// Evaluates `tokens` at the next positions and returns the logits after the last one
    /// (valid until the next call, and only while the session is alive: the buffer is the
    /// session's, so copy it before a temporary session is released). If `eachPosition` is given it receives, in order, every
    /// position's index within `tokens` and its logits.
    @discardableResult
    public func evaluate(
        _ tokens: [Int], eachPosition: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil
    ) throws -> UnsafeBufferPointer<Float> {
        let whole = SequenceSegment(slot: 0, start: position, tokens: tokens)
        // Checked whole before any chunk runs, so a bad token leaves the session unchanged.
        try forward.validate([whole], caches: [cache], chunked: true)
        var start = 0
        var lastRow = 0
        while start < tokens.count {
            let count = min(forward.maxRows, tokens.count - start)
            forward.run([SequenceSegment(slot: 0, start: position, tokens: Array(tokens[start..<start + count]),
                                         ropeEnd: whole.start + tokens.count)], caches: [cache])
            position += count
            if let eachPosition {
                // Prompt rows: the float batch path (not a decode step), as a fresh prompt gets.
                forward.logits(rows: Array(0..<count), decodeStep: false) { i, logits in eachPosition(start + i, logits) }
            }
            lastRow = count - 1
            start += count
        }
        var last = UnsafeBufferPointer<Float>(start: nil, count: 0)
        forward.logits(rows: [lastRow], decodeStep: false) { _, logits in last = logits }
        return last
    }
}
