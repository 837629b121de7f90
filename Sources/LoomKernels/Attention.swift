/// Causal multi-head attention with grouped KV heads over a KV cache.
///
/// Each (token, head) pair is one job: scores against every cached position up to the
/// token's own, softmax, weighted sum of values. Scores live in a per-worker scratch row of
/// context length, so memory grows linearly with the context, never as tokens × context.
public enum Attention {
    /// - Parameters:
    ///   - queries: `[tokens × heads × headDim]`, already rotated.
    ///   - keys, values: one layer of the cache, `[positions × kvHeads × headDim]`, holding
    ///     every position up to `start + tokens - 1`.
    ///   - start: position of the first query token.
    ///   - output: `[tokens × heads × headDim]`.
    public static func causal(
        queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
        start: Int, tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
        output: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let group = heads / kvHeads
        let kvStride = kvHeads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        let jobs = tokens * heads
        pool.parallelFor(count: jobs, chunk: max(1, jobs / (pool.threadCount * 8))) { range, worker in
            let scores = pool.scratch(worker: worker, count: start + tokens)
            for job in range {
                let t = job / heads, h = job % heads
                let positions = start + t + 1
                let q = queries + (t * heads + h) * headDim
                let kvOffset = (h / group) * headDim
                for p in 0..<positions {
                    scores[p] = RowKernels.dotF32(q, keys + p * kvStride + kvOffset, count: headDim) * scale
                }
                VectorOps.softmax(scores, count: positions)
                let out = output + (t * heads + h) * headDim
                out.initialize(repeating: 0, count: headDim)
                for p in 0..<positions {
                    VectorOps.axpy(scores[p], values + p * kvStride + kvOffset, out, count: headDim)
                }
            }
        }
    }
}
