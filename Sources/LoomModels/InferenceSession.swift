import LoomKernels

/// The evaluation state of one sequence: KV cache, position and scratch buffers, and the
/// Llama/Qwen2 forward pass over them.
///
/// The forward pass follows HF's LlamaModel/Qwen2Model (REFERENCE §1.6b): pre-norm blocks,
/// RMSNorm → Q/K/V (+ biases for Qwen2) → RoPE → causal GQA attention → output projection →
/// residual; RMSNorm → SwiGLU feed-forward → residual; final RMSNorm → LM head. Activations
/// stay in f32. Prompts are processed in batches of up to ``maxBatch`` tokens so every weight
/// row is dequantised once per batch rather than once per token.
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
    private let batch: Int
    private let x, normed, queries, attention, gate, up, ropeTable: UnsafeMutablePointer<Float>
    private let logits: UnsafeMutablePointer<Float>
    /// Rows of logits computed together when every position's logits are wanted.
    private static let logitRows = 16
    private let logitBlock: UnsafeMutablePointer<Float>

    init(model: LanguageModel, capacity: Int, pool: ThreadPool) {
        self.model = model
        self.capacity = capacity
        self.pool = pool
        let c = model.config
        batch = min(Self.maxBatch, capacity)
        cache = KVCache(layers: c.layerCount, capacity: capacity, rowSize: c.kvHeadCount * c.headDim)
        let qDim = c.headCount * c.headDim
        x = .allocate(capacity: batch * c.embeddingSize)
        normed = .allocate(capacity: batch * max(c.embeddingSize, qDim))
        queries = .allocate(capacity: batch * qDim)
        attention = .allocate(capacity: batch * qDim)
        gate = .allocate(capacity: batch * c.feedForwardSize)
        up = .allocate(capacity: batch * c.feedForwardSize)
        ropeTable = .allocate(capacity: batch * c.ropeDimensions)
        logits = .allocate(capacity: c.vocabularySize)
        logitBlock = .allocate(capacity: Self.logitRows * c.vocabularySize)
    }

    deinit {
        for p in [x, normed, queries, attention, gate, up, ropeTable, logits, logitBlock] { p.deallocate() }
    }

    /// Forgets every evaluated token.
    public func reset() { position = 0 }

    /// Drops positions from `newPosition` on (keeps a shared prefix for reuse).
    public func truncate(to newPosition: Int) {
        position = max(0, min(position, newPosition))
    }

    /// Evaluates `tokens` at the next positions and returns the logits after the last one
    /// (valid until the next call). If `eachPosition` is given it receives, in order, every
    /// position's index within `tokens` and its logits.
    @discardableResult
    public func evaluate(
        _ tokens: [Int], eachPosition: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil
    ) throws -> UnsafeBufferPointer<Float> {
        let c = model.config
        guard !tokens.isEmpty else { throw ModelError.emptyInput }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= c.vocabularySize }) {
            throw ModelError.tokenOutOfRange(token: bad, vocabularySize: c.vocabularySize)
        }
        guard position + tokens.count <= capacity else {
            throw ModelError.contextFull(needed: position + tokens.count, capacity: capacity)
        }
        cache.reserve(positions: position + tokens.count)
        var start = 0
        while start < tokens.count {
            let count = min(batch, tokens.count - start)
            tokens.withUnsafeBufferPointer { all in
                forward(UnsafeBufferPointer(rebasing: all[start..<start + count]))
            }
            if let eachPosition {
                emitAllLogits(count: count, offset: start, eachPosition)
            }
            start += count
        }
        let last = x + ((tokens.count - 1) % batch) * c.embeddingSize
        VectorOps.rmsNorm(last, weight: model.weights.outputNorm, eps: c.rmsEpsilon, into: normed, count: c.embeddingSize)
        MatMul.multiply(model.weights.output, normed, tokens: 1, into: logits, pool: pool)
        return UnsafeBufferPointer(start: logits, count: c.vocabularySize)
    }

    /// Runs one batch through every layer, leaving the final hidden states in `x`.
    private func forward(_ tokens: UnsafeBufferPointer<Int>) {
        let c = model.config
        let w = model.weights
        let n = tokens.count
        let d = c.embeddingSize
        let qDim = c.headCount * c.headDim
        let kvDim = c.kvHeadCount * c.headDim
        let start = position

        for (i, token) in tokens.enumerated() {
            w.tokenEmbedding.dequantizeRow(token, into: x + i * d)
            model.rope.fillTable(position: start + i, into: ropeTable + i * c.ropeDimensions)
        }
        for (index, layer) in w.layers.enumerated() {
            for i in 0..<n {
                VectorOps.rmsNorm(x + i * d, weight: layer.attentionNorm, eps: c.rmsEpsilon, into: normed + i * d, count: d)
            }
            let keys = cache.keys(layer: index) + start * kvDim
            let values = cache.values(layer: index) + start * kvDim
            layer.queryBias.withOptionalPointer { qb in
                layer.keyBias.withOptionalPointer { kb in
                    layer.valueBias.withOptionalPointer { vb in
                        MatMul.multiply(
                            MatMulTarget(layer.query, queries, bias: qb),
                            MatMulTarget(layer.key, keys, bias: kb),
                            MatMulTarget(layer.value, values, bias: vb),
                            normed, tokens: n, pool: pool)
                    }
                }
            }
            for i in 0..<n {
                let table = ropeTable + i * c.ropeDimensions
                model.rope.apply(queries + i * qDim, heads: c.headCount, headDim: c.headDim, table: table)
                model.rope.apply(keys + i * kvDim, heads: c.kvHeadCount, headDim: c.headDim, table: table)
            }
            Attention.causal(
                queries: queries, keys: cache.keys(layer: index), values: cache.values(layer: index),
                start: start, tokens: n, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                output: attention, pool: pool)
            MatMul.multiply(layer.attentionOutput, attention, tokens: n, into: normed, pool: pool)
            VectorOps.add(normed, into: x, count: n * d)

            for i in 0..<n {
                VectorOps.rmsNorm(x + i * d, weight: layer.feedForwardNorm, eps: c.rmsEpsilon, into: normed + i * d, count: d)
            }
            if n == 1 {
                // Decode: SwiGLU applied by the workers as the rows come out (one dispatch).
                GatedFeedForward.multiply(gate: layer.gate, up: layer.up, normed, into: gate, pool: pool)
            } else {
                MatMul.multiply(MatMulTarget(layer.gate, gate), MatMulTarget(layer.up, up), nil, normed, tokens: n, pool: pool)
                VectorOps.swiglu(gate, up: up, count: n * c.feedForwardSize)
            }
            MatMul.multiply(layer.down, gate, tokens: n, into: normed, pool: pool)
            VectorOps.add(normed, into: x, count: n * d)
        }
        position += n
    }

    private func emitAllLogits(count: Int, offset: Int, _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
        let c = model.config
        let d = c.embeddingSize
        let vocab = c.vocabularySize
        var row = 0
        while row < count {
            let rows = min(Self.logitRows, count - row)
            for i in 0..<rows {
                VectorOps.rmsNorm(x + (row + i) * d, weight: model.weights.outputNorm, eps: c.rmsEpsilon, into: normed + i * d, count: d)
            }
            MatMul.multiply(model.weights.output, normed, tokens: rows, into: logitBlock, pool: pool)
            for i in 0..<rows {
                body(offset + row + i, UnsafeBufferPointer(start: logitBlock + i * vocab, count: vocab))
            }
            row += rows
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with a pointer to the array's storage, or nil.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let array): return array.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
