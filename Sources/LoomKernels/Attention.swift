/// Causal multi-head attention with grouped KV heads over a KV cache.
///
/// Each (token, head) pair is one job — or, for prompts, four consecutive tokens of a head
/// (``attendFourTokens``), which share every key and value load: scores against every
/// cached position up to the token's own, softmax, weighted sum of values. Scores live in
/// per-worker scratch rows of context length, so memory grows linearly with the context,
/// never as tokens × context.
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
        let rowStride = heads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        // Decode (and prompts too short for a block): query heads of a KV head together.
        if tokens < 4 {
            decode(queries: queries, tokens: tokens, heads: heads, kvHeads: kvHeads, headDim: headDim,
                   cache: { (keys, values, start + $0 + 1) }, longest: start + tokens, output: output, pool: pool)
            return
        }
        // Prompts: jobs of four consecutive tokens of one head first (see BlockedAttention),
        // then the remaining tokens one (token, head) at a time.
        let blocks = canBlock(headDim: headDim) ? tokens / 4 : 0
        let blockJobs = blocks * heads
        let jobs = blockJobs + (tokens - 4 * blocks) * heads
        pool.parallelFor(count: jobs, chunk: max(1, jobs / (pool.threadCount * 8))) { range, worker in
            let scores = pool.scratch(worker: worker, count: 4 * (start + tokens))
            for job in range {
                if job < blockJobs {
                    let t = 4 * (job / heads), h = job % heads
                    let kvOffset = (h / group) * headDim
                    attendFourTokens(
                        query: queries + (t * heads + h) * headDim, rowStride: rowStride,
                        keys: keys + kvOffset, values: values + kvOffset, kvStride: kvStride,
                        visible: start + t + 1, headDim: headDim, scale: scale,
                        scores: scores, output: output + (t * heads + h) * headDim)
                    continue
                }
                let single = job - blockJobs
                let t = 4 * blocks + single / heads, h = single % heads
                let kvOffset = (h / group) * headDim
                attendOne(
                    query: queries + (t * heads + h) * headDim, keys: keys + kvOffset, values: values + kvOffset,
                    kvStride: kvStride, positions: start + t + 1, headDim: headDim, scale: scale,
                    scores: scores, output: output + (t * heads + h) * headDim)
            }
        }
    }
}
