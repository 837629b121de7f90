/// Causal multi-head attention with grouped KV heads over a KV cache.
///
/// Every path walks the cache in tiles of ``tileRows`` positions with an online softmax
/// (TiledAttention.swift): prompts in jobs of up to 32 (token, head) rows of one KV head,
/// decode in jobs of one to four heads of a token. Scratch is a tile per row block, so
/// memory grows with the KV cache only, never as tokens × context or as context per worker;
/// and each row gets the same arithmetic on every path, so its result does not depend on
/// the rows it shares a job with.
///
/// The cache may hold any ``KVCacheType``: float rows are read in place, others are
/// dequantised a tile at a time (``KVRows``).
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
        // A few tokens: jobs of query heads of one KV head, as decode runs them.
        if tokens < 4 {
            decode(queries: queries, tokens: tokens, heads: heads, kvHeads: kvHeads, headDim: headDim,
                   cache: { (keys, values, start + $0 + 1) }, output: output, pool: pool)
            return
        }
        tiledCausal(queries: queries, keys: keys, values: values, start: start, tokens: tokens,
                    heads: heads, kvHeads: kvHeads, headDim: headDim, output: output, pool: pool)
    }

    /// Positions per tile: 64 rows of a 64- or 128-wide head are 16 or 32 KB of floats,
    /// which stay in L1/L2 while a job reads them.
    public static let tileRows = 64
}
