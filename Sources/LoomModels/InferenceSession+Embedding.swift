import LoomKernels

extension InferenceSession {
    /// The pooled final hidden state of `tokens` (after the output RMSNorm: the LM head's
    /// input, as llama.cpp pools it in `llama_context::encode`/`decode` with a pooling type),
    /// `[embeddingSize]`, L2-normalised when `normalize` is set.
    ///
    /// The session is reset first and holds `tokens` afterwards. Rows are prompt rows
    /// (``BatchRows/prompt``) in chunks of at most ``maxBatch``; with batch invariance (the
    /// default) the result does not depend on the chunking. The mean is accumulated in
    /// Double, so it does not depend on the order of chunks either.
    ///
    /// - Throws: ``ModelError/emptyInput`` for no tokens, ``ModelError/contextFull(needed:capacity:)``
    ///   when they exceed ``capacity``, ``ModelError/tokenOutOfRange(token:vocabularySize:)``.
    public func embedding(of tokens: [Int], pooling: EmbeddingPooling, normalize: Bool = true) throws -> [Float] {
        reset()
        let d = model.config.embeddingSize
        let whole = SequenceSegment(slot: 0, start: 0, tokens: tokens, isPrompt: true)
        try forward.validate([whole], caches: [cache], chunked: true)
        var sum = [Double](repeating: 0, count: d)
        var row = [Float](repeating: 0, count: d)
        var result = [Float](repeating: 0, count: d)
        var start = 0
        while start < tokens.count {
            let count = min(forward.maxRows, tokens.count - start)
            forward.run([SequenceSegment(slot: 0, start: position, tokens: Array(tokens[start..<start + count]),
                                         ropeEnd: tokens.count, isPrompt: true)], caches: [cache])
            position += count
            switch pooling {
            case .mean:
                for r in 0..<count {
                    forward.outputNormed(row: r, into: &row)
                    for i in 0..<d { sum[i] += Double(row[i]) }
                }
            case .last where start + count == tokens.count:
                forward.outputNormed(row: count - 1, into: &result)
            case .cls where start == 0:
                forward.outputNormed(row: 0, into: &result)
            case .last, .cls:
                break
            }
            start += count
        }
        if pooling == .mean {
            let n = Double(tokens.count)
            for i in 0..<d { result[i] = Float(sum[i] / n) }
        }
        if normalize { VectorOps.normalizeL2(&result) }
        return result
    }
}
