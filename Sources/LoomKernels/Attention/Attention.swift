/// Causal multi-head attention with grouped KV heads over a KV cache.
///
/// Each (token, head) pair is one job — or, for prompts, four consecutive tokens of a head
/// (``attendFourTokens``), which share every key and value load: scores against every
/// cached position up to the token's own, softmax, weighted sum of values. Scores live in
/// per-worker scratch rows of context length, so memory grows linearly with the context,
/// never as tokens × context.
///
/// The cache may hold any ``KVCacheType``: float rows are read in place, others a tile of
/// ``tileRows`` positions at a time (``KVRows``).
public enum Attention {
    /// - Parameters:
    ///   - queries: `[tokens × heads × headDim]`, already rotated.
    ///   - keys, values: one layer of the cache, `[positions × kvHeads × headDim]`, holding
    ///     every position up to `start + tokens - 1`.
    ///   - start: position of the first query token.
    ///   - output: `[tokens × heads × headDim]`.
    public static func causal(
        queries: UnsafePointer<Float>, keys: KVRows, values: KVRows,
        start: Int, tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
        output: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        let group = heads / kvHeads
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
        let scoreFloats = 4 * (start + tokens)
        let tileFloats = tileFloats(keys, values, headDim: headDim)
        pool.parallelFor(count: jobs, chunk: max(1, jobs / (pool.threadCount * 8))) { range, worker in
            let scores = pool.scratch(worker: worker, count: scoreFloats + tileFloats)
            let tile = scores + scoreFloats
            for job in range {
                if job < blockJobs {
                    let t = 4 * (job / heads), h = job % heads
                    let kvOffset = (h / group) * headDim
                    attendFourTokens(
                        query: queries + (t * heads + h) * headDim, rowStride: rowStride,
                        keys: keys.advanced(positions: 0, elements: kvOffset), values: values.advanced(positions: 0, elements: kvOffset),
                        visible: start + t + 1, headDim: headDim, scale: scale,
                        scores: scores, tile: tile, output: output + (t * heads + h) * headDim)
                    continue
                }
                let single = job - blockJobs
                let t = 4 * blocks + single / heads, h = single % heads
                let kvOffset = (h / group) * headDim
                attendOne(
                    query: queries + (t * heads + h) * headDim,
                    keys: keys.advanced(positions: 0, elements: kvOffset), values: values.advanced(positions: 0, elements: kvOffset),
                    positions: start + t + 1, headDim: headDim, scale: scale,
                    scores: scores, tile: tile, output: output + (t * heads + h) * headDim)
            }
        }
    }

    /// Positions per dequantised tile of a non-float cache: 64 rows of a 64- or 128-wide head
    /// are 16 or 32 KB of floats, which stay in L1/L2 while a job reads them.
    public static let tileRows = 64

    /// Scratch floats a job needs for tiles besides its scores: none for float caches.
    static func tileFloats(_ keys: KVRows, _ values: KVRows, headDim: Int) -> Int {
        keys.type == .f32 && values.type == .f32 ? 0 : tileRows * headDim
    }

    /// Calls `body(rows, stride, first, count)` over positions `0..<positions` of `rows` (a
    /// head's view, `headDim` elements a row): once with the cache's own float rows, or tile
    /// by tile with each tile dequantised into `tile` (rows `headDim` apart). `first` is the
    /// position of the tile's first row.
    @inline(__always)
    static func forEachTile(
        _ rows: KVRows, positions: Int, headDim: Int, tile: UnsafeMutablePointer<Float>,
        _ body: (_ rows: UnsafePointer<Float>, _ stride: Int, _ first: Int, _ count: Int) -> Void
    ) {
        if let (pointer, stride) = rows.floats {
            body(pointer, stride, 0, positions)
            return
        }
        var first = 0
        while first < positions {
            let count = min(tileRows, positions - first)
            rows.dequantize(first: first, count: count, width: headDim, into: tile)
            body(UnsafePointer(tile), headDim, first, count)
            first += count
        }
    }
}
