import LoomKernels

/// The evaluation state of several independent sequences ("slots") sharing one model, and a
/// forward pass that runs tokens of many slots together.
///
/// Each slot has its own KV cache; one ``evaluate(_:logits:)`` call takes any mix of
/// segments (a prompt chunk of one slot, the next token of several others) and runs them
/// as a single batch through every layer, so each weight matrix is read once per call for
/// all of them (continuous batching turns memory-bound decoding into throughput). The
/// arithmetic is the same as ``InferenceSession``'s forward pass: embedding, RMSNorm, Q/K/V
/// (+ biases), RoPE at each token's own position, causal attention of each token over its
/// own slot's cache only, output projection, SwiGLU, final norm and LM head.
///
/// Not thread-safe: one caller (a scheduler thread) drives it.
public final class MultiSequenceBatch {
    /// A run of consecutive tokens of one slot, starting at position `start` of that slot.
    public struct Segment: Sendable, Equatable {
        public var slot: Int
        public var start: Int
        public var tokens: [Int]
        /// Whether logits are wanted for every token (prompt scoring) or only the last one.
        public var allLogits: Bool

        public init(slot: Int, start: Int, tokens: [Int], allLogits: Bool = false) {
            self.slot = slot
            self.start = start
            self.tokens = tokens
            self.allLogits = allLogits
        }
    }

    public let model: LanguageModel
    /// Number of independent sequences.
    public let slotCount: Int
    /// Positions each slot's KV cache holds.
    public let capacity: Int
    /// Most tokens (over all segments) one call may evaluate.
    public let maxTokens: Int
    public let pool: ThreadPool

    let caches: [KVCache]
    private let x, normed, queries, attention, gate, up, ropeTable: UnsafeMutablePointer<Float>
    private static let logitRows = 16
    private let logitBlock: UnsafeMutablePointer<Float>

    /// Creates `slots` sequences of `capacity` positions each; one call evaluates at most
    /// `maxTokens` tokens. KV memory is reserved but only becomes resident as it is used.
    public init(model: LanguageModel, slots: Int, capacity: Int, maxTokens: Int = 512, pool: ThreadPool) throws {
        guard slots > 0, capacity > 0, maxTokens > 0 else {
            throw ModelError.invalidMetadata(key: "batch shape", reason: "slots \(slots), capacity \(capacity) and maxTokens \(maxTokens) must be positive", path: model.path)
        }
        self.model = model
        self.slotCount = slots
        self.capacity = capacity
        self.maxTokens = maxTokens
        self.pool = pool
        let c = model.config
        caches = (0..<slots).map { _ in KVCache(layers: c.layerCount, capacity: capacity, rowSize: c.kvHeadCount * c.headDim) }
        let qDim = c.headCount * c.headDim
        x = .allocate(capacity: maxTokens * c.embeddingSize)
        normed = .allocate(capacity: maxTokens * max(c.embeddingSize, qDim))
        queries = .allocate(capacity: maxTokens * qDim)
        attention = .allocate(capacity: maxTokens * qDim)
        gate = .allocate(capacity: maxTokens * c.feedForwardSize)
        up = .allocate(capacity: maxTokens * c.feedForwardSize)
        ropeTable = .allocate(capacity: maxTokens * c.ropeDimensions)
        logitBlock = .allocate(capacity: Self.logitRows * c.vocabularySize)
    }

    deinit {
        for p in [x, normed, queries, attention, gate, up, ropeTable, logitBlock] { p.deallocate() }
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
        let c = model.config
        let total = segments.reduce(0) { $0 + $1.tokens.count }
        guard total > 0, segments.allSatisfy({ !$0.tokens.isEmpty }) else { throw ModelError.emptyInput }
        guard total <= maxTokens else {
            throw ModelError.contextFull(needed: total, capacity: maxTokens)
        }
        var seen = Set<Int>()
        for s in segments {
            guard s.slot >= 0, s.slot < slotCount, seen.insert(s.slot).inserted else {
                throw ModelError.invalidMetadata(key: "segment slot", reason: "slot \(s.slot) is out of range 0..<\(slotCount) or appears twice", path: model.path)
            }
            if let bad = s.tokens.first(where: { $0 < 0 || $0 >= c.vocabularySize }) {
                throw ModelError.tokenOutOfRange(token: bad, vocabularySize: c.vocabularySize)
            }
            guard s.start >= 0, s.start + s.tokens.count <= capacity else {
                throw ModelError.contextFull(needed: s.start + s.tokens.count, capacity: capacity)
            }
        }
        forward(segments)
        emitLogits(segments, body)
    }

    /// Runs all segments through every layer, leaving the final hidden states in `x`.
    private func forward(_ segments: [Segment]) {
        let c = model.config
        let w = model.weights
        let d = c.embeddingSize
        let qDim = c.headCount * c.headDim
        let kvDim = c.kvHeadCount * c.headDim
        // Row offset of each segment within the batch.
        var offsets: [Int] = []
        var n = 0
        for s in segments {
            offsets.append(n)
            for (i, token) in s.tokens.enumerated() {
                w.tokenEmbedding.dequantizeRow(token, into: x + (n + i) * d)
                model.rope.fillTable(position: s.start + i, into: ropeTable + (n + i) * c.ropeDimensions)
            }
            n += s.tokens.count
        }
        // Every batch row's slot and position, for attention.
        var rows: [(slot: Int, position: Int)] = []
        rows.reserveCapacity(n)
        for s in segments {
            for i in 0..<s.tokens.count { rows.append((s.slot, s.start + i)) }
        }
        // K and V are projected into a batch-ordered staging area (the `attention` buffer is
        // free at that point only for Q-sized data, so use `gate`/`up`, which are larger),
        // then copied into each slot's cache rows.
        let stagedKeys = gate, stagedValues = up
        // A pure decode step (one token per sequence): integer batch kernels, the accuracy of
        // single-token decode (not for prompts, see `MatMul.multiply(..., integerBatch:)`).
        let decodeStep = segments.allSatisfy { $0.tokens.count == 1 }
        for (index, layer) in w.layers.enumerated() {
            for i in 0..<n {
                VectorOps.rmsNorm(x + i * d, weight: layer.attentionNorm, eps: c.rmsEpsilon, into: normed + i * d, count: d)
            }
            layer.queryBias.withOptionalPointer { qb in
                layer.keyBias.withOptionalPointer { kb in
                    layer.valueBias.withOptionalPointer { vb in
                        MatMul.multiply(
                            MatMulTarget(layer.query, queries, bias: qb),
                            MatMulTarget(layer.key, stagedKeys, bias: kb),
                            MatMulTarget(layer.value, stagedValues, bias: vb),
                            normed, tokens: n, pool: pool, integerBatch: decodeStep)
                    }
                }
            }
            for (s, segment) in segments.enumerated() {
                let cache = caches[segment.slot]
                if index == 0 { cache.reserve(positions: segment.start + segment.tokens.count) }
                let keys = cache.keys(layer: index) + segment.start * kvDim
                let values = cache.values(layer: index) + segment.start * kvDim
                let count = segment.tokens.count
                let row = offsets[s]
                keys.update(from: stagedKeys + row * kvDim, count: count * kvDim)
                values.update(from: stagedValues + row * kvDim, count: count * kvDim)
                for i in 0..<count {
                    let table = ropeTable + (row + i) * c.ropeDimensions
                    model.rope.apply(queries + (row + i) * qDim, heads: c.headCount, headDim: c.headDim, table: table)
                    model.rope.apply(keys + i * kvDim, heads: c.kvHeadCount, headDim: c.headDim, table: table)
                }
            }
            attend(rows: rows, layer: index)
            MatMul.multiply(layer.attentionOutput, attention, tokens: n, into: normed, pool: pool, integerBatch: decodeStep)
            VectorOps.add(normed, into: x, count: n * d)

            for i in 0..<n {
                VectorOps.rmsNorm(x + i * d, weight: layer.feedForwardNorm, eps: c.rmsEpsilon, into: normed + i * d, count: d)
            }
            MatMul.multiply(MatMulTarget(layer.gate, gate), MatMulTarget(layer.up, up), nil, normed, tokens: n, pool: pool, integerBatch: decodeStep)
            VectorOps.swiglu(gate, up: up, count: n * c.feedForwardSize)
            MatMul.multiply(layer.down, gate, tokens: n, into: normed, pool: pool, integerBatch: decodeStep)
            VectorOps.add(normed, into: x, count: n * d)
        }
    }

    /// Causal attention of every batch row over its own slot's cache, as one parallel loop
    /// (one dispatch per layer however many slots are busy): ``Attention/decode``, each row a
    /// single query over the positions up to its own, with the arithmetic of
    /// `Attention.causal`.
    private func attend(rows: [(slot: Int, position: Int)], layer: Int) {
        let c = model.config
        let longest = rows.reduce(0) { max($0, $1.position + 1) }
        let keys = caches.map { UnsafePointer($0.keys(layer: layer)) }
        let values = caches.map { UnsafePointer($0.values(layer: layer)) }
        rows.withUnsafeBufferPointer { rows in
            keys.withUnsafeBufferPointer { keys in
                values.withUnsafeBufferPointer { values in
                    Attention.decode(
                        queries: queries, tokens: rows.count, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                        cache: { t in (keys[rows[t].slot], values[rows[t].slot], rows[t].position + 1) },
                        longest: longest, output: attention, pool: pool)
                }
            }
        }
    }

    /// Computes the wanted rows of logits, `logitRows` at a time (one LM-head read per block).
    private func emitLogits(_ segments: [Segment], _ body: (Int, Int, UnsafeBufferPointer<Float>) -> Void) {
        let c = model.config
        let d = c.embeddingSize
        let vocab = c.vocabularySize
        // (segment, token index, batch row) of every wanted row, in order.
        var wanted: [(Int, Int, Int)] = []
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
        // Pure decode steps: integer batch kernels (as in `forward`).
        let decodeStep = segments.allSatisfy { $0.tokens.count == 1 }
        var next = 0
        while next < wanted.count {
            let rows = min(Self.logitRows, wanted.count - next)
            for i in 0..<rows {
                VectorOps.rmsNorm(x + wanted[next + i].2 * d, weight: model.weights.outputNorm, eps: c.rmsEpsilon, into: normed + i * d, count: d)
            }
            MatMul.multiply(model.weights.output, normed, tokens: rows, into: logitBlock, pool: pool, integerBatch: decodeStep)
            for i in 0..<rows {
                body(wanted[next + i].0, wanted[next + i].1, UnsafeBufferPointer(start: logitBlock + i * vocab, count: vocab))
            }
            next += rows
        }
    }
}
