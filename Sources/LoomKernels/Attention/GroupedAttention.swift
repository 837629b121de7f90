// Decode attention, several query heads of one KV head at a time.
//
// With grouped-query attention `heads / kvHeads` query heads read the same cached key and
// value rows. A job here takes up to four query heads of a KV head (one row block of
// TiledAttention.swift): each key row is loaded once for all of them
// (``VectorOps/dot4x4(_:_:_:_:_:_:_:_:count:)``), each tile of a non-float cache is
// dequantised once for them, and the value sums stay in registers, four heads × 16 lanes
// per pass over the positions. One (token, head) job per query head streamed those rows
// once per head; in a `loom serve` step at 8 streams and ≈ 130 positions that was 14 % of
// the time (`perf`).

extension Attention {
    /// Query heads per decode job: as many of a group as leave at least one job per thread,
    /// at most four (the register block), at least one.
    ///
    /// Every job streams its KV head's cached rows once, so fewer, larger jobs read the cache
    /// fewer times; balance matters less. SmolLM2 (3 KV heads of 3) decoding one token at 2
    /// threads ran 9 one-head jobs under the earlier rule (at least four jobs per thread)
    /// and now runs 3 jobs of 3 heads: much faster decode at 1024 cached positions, no
    /// difference at an empty cache (BENCHMARKS.md, "Kernel design measurements").
    public static func headsPerJob(tokens: Int, kvHeads: Int, group: Int, threads: Int) -> Int {
        var best = 1
        for h in 2...4 where h <= group {
            let jobs = tokens * kvHeads * ((group + h - 1) / h)
            if jobs >= threads { best = h }
        }
        return best
    }

    /// Decode attention of `tokens` single tokens, each over its own cache, as one parallel
    /// loop of jobs of ``headsPerJob(tokens:kvHeads:group:threads:)`` query heads.
    ///
    /// - Parameters:
    ///   - queries: `[tokens × heads × headDim]`, already rotated; output the same shape.
    ///   - cache: for token `t`, its layer's cached keys and values (`[positions × kvHeads × headDim]`,
    ///     one layout and type for all tokens) and how many positions it sees.
    public static func decode(
        queries: UnsafePointer<Float>, tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
        cache: (Int) -> (keys: KVRows, values: KVRows, positions: Int),
        output: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        guard tokens > 0 else { return }
        let group = heads / kvHeads
        let scale = 1 / Float(headDim).squareRoot()
        let perJob = headsPerJob(tokens: tokens, kvHeads: kvHeads, group: group, threads: pool.threadCount)
        let jobsPerKVHead = (group + perJob - 1) / perJob
        let jobsPerToken = kvHeads * jobsPerKVHead
        let jobs = tokens * jobsPerToken
        let scratchFloats = scratchFloats(blocks: 1, headDim: headDim)
        pool.parallelFor(count: jobs, chunk: max(1, jobs / (pool.threadCount * 8))) { range, worker in
            let scratch = pool.scratch(worker: worker, count: scratchFloats)
            for job in range {
                let t = job / jobsPerToken
                let kvHead = (job % jobsPerToken) / jobsPerKVHead
                let first = kvHead * group + (job % jobsPerKVHead) * perJob
                let count = min(perJob, (kvHead + 1) * group - first)
                let (keys, values, positions) = cache(t)
                let row = (t * heads + first) * headDim
                var block = RowBlock(count: count) { (queries + row + $0 * headDim, output + row + $0 * headDim, positions - 1) }
                withUnsafeMutablePointer(to: &block) { b in
                    attendBlocks(UnsafeMutableBufferPointer(start: b, count: 1),
                                 keys: keys.advanced(positions: 0, elements: kvHead * headDim),
                                 values: values.advanced(positions: 0, elements: kvHead * headDim),
                                 headDim: headDim, scale: scale, scratch: scratch)
                }
            }
        }
    }
}
