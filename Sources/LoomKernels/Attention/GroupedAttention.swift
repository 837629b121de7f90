// Decode attention, several query heads of one KV head at a time.
//
// With grouped-query attention `heads / kvHeads` query heads read the same cached key and
// value rows. One (token, head) job per query head (``Attention/attendOne``) streams those
// rows once per head and keeps the weighted value sum in memory (an `axpy` per position);
// in a `loom serve` step at 8 streams and ≈ 130 positions that was 14 % of the time
// (`perf`). A job here takes up to four query heads of a KV head: each key row is loaded
// once for all of them (``VectorOps/dot4(_:_:_:_:_:count:)``), and the value sums stay in
// registers, four heads × 16 lanes per pass over the positions.
//
// Each (query, key) score and each output lane is computed with exactly the arithmetic of
// ``Attention/attendOne`` (one 16-lane accumulator in order, then its sum; one fused
// multiply-add per position in order), so the results are bit-identical to it and to the
// prompt path (``Attention/attendFourTokens``), whichever path a token takes.

extension Attention {
    /// Query heads per decode job: as many of a group as leave at least one job per thread,
    /// at most four (the register block), at least one.
    ///
    /// Every job streams its KV head's cached rows once, so fewer, larger jobs read the cache
    /// fewer times; balance matters less. SmolLM2 (3 KV heads of 3) decoding one token at 2
    /// threads ran 9 one-head jobs under the earlier rule (at least four jobs per thread)
    /// and now runs 3 jobs of 3 heads: much faster decode at 1024 cached positions, no
    /// difference at an empty cache (BENCHMARKS.md, "Kernel design measurements").
    public static func headsPerJob(tokens: Int, kvHeads: Int, group: Int, threads: Int, headDim: Int) -> Int {
        guard canBlock(headDim: headDim) else { return 1 }
        var best = 1
        for h in 2...4 where h <= group {
            let jobs = tokens * kvHeads * ((group + h - 1) / h)
            if jobs >= threads { best = h }
        }
        return best
    }

    /// Attention of `count` (1–4) query heads that share one KV head, for one token.
    ///
    /// - Parameters:
    ///   - query: the first head's query, the others following `headDim` floats apart.
    ///   - keys, values: that KV head's view of the cached rows (position 0, its first element).
    ///   - positions: cached rows the token sees (its own included).
    ///   - scores: scratch of at least `4 × positions` floats.
    ///   - tile: scratch of ``tileRows`` × `headDim` floats for a non-float cache.
    ///   - output: the first head's output; the others follow `headDim` floats apart.
    public static func attendHeads(
        query: UnsafePointer<Float>, count: Int, keys: KVRows, values: KVRows,
        positions: Int, headDim: Int, scale: Float,
        scores: UnsafeMutablePointer<Float>, tile: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        precondition(count >= 1 && count <= 4 && canBlock(headDim: headDim), "attendHeads: \(count) heads of \(headDim)")
        // Missing heads repeat the last real one; their results are not stored.
        let q0 = query, q1 = query + headDim * min(1, count - 1)
        let q2 = query + headDim * min(2, count - 1), q3 = query + headDim * min(3, count - 1)
        let s0 = scores, s1 = s0 + positions, s2 = s1 + positions, s3 = s2 + positions
        // Four positions at a time through the 4 × 4 block (each pair with the arithmetic of
        // `dot4`, so the scores are the same bits either way), asking for the key rows
        // `keyLead` positions ahead: the rows of one KV head are a cache row apart, a
        // stride the hardware prefetcher follows only a little way.
        let rowBytes = headDim * MemoryLayout<Float>.stride
        forEachTile(keys, positions: positions, headDim: headDim, tile: tile) { keys, kvStride, first, n in
            var p = 0
            while p + 4 <= n {
                let k = keys + p * kvStride
                if p + Self.keyLead + 4 <= n { prefetchRows(k + Self.keyLead * kvStride, rows: 4, stride: kvStride, bytes: rowBytes) }
                let (r0, r1, r2, r3) = VectorOps.dot4x4(k, k + kvStride, k + 2 * kvStride, k + 3 * kvStride, q0, q1, q2, q3, count: headDim)
                let i = first + p
                UnsafeMutableRawPointer(s0 + i).storeBytes(of: r0 * scale, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(s1 + i).storeBytes(of: r1 * scale, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(s2 + i).storeBytes(of: r2 * scale, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(s3 + i).storeBytes(of: r3 * scale, as: SIMD4<Float>.self)
                p += 4
            }
            while p < n {
                let r = VectorOps.dot4(q0, q1, q2, q3, keys + p * kvStride, count: headDim)
                let i = first + p
                s0[i] = r[0] * scale; s1[i] = r[1] * scale; s2[i] = r[2] * scale; s3[i] = r[3] * scale
                p += 1
            }
        }
        for j in 0..<count { VectorOps.softmax(scores + j * positions, count: positions) }
        forEachTile(values, positions: positions, headDim: headDim, tile: tile) { values, kvStride, first, n in
            weightedValues(UnsafePointer(s0 + first), UnsafePointer(s1 + first), UnsafePointer(s2 + first), UnsafePointer(s3 + first),
                           positions: n, values: values, kvStride: kvStride, headDim: headDim,
                           output: output, outputStride: headDim, count: count, accumulate: first > 0)
        }
    }

    /// Decode attention of `tokens` single tokens, each over its own cache, as one parallel
    /// loop of jobs of ``headsPerJob(tokens:kvHeads:group:threads:headDim:)`` query heads.
    ///
    /// - Parameters:
    ///   - queries: `[tokens × heads × headDim]`, already rotated; output the same shape.
    ///   - cache: for token `t`, its layer's cached keys and values (`[positions × kvHeads × headDim]`,
    ///     one layout and type for all tokens) and how many positions it sees.
    public static func decode(
        queries: UnsafePointer<Float>, tokens: Int, heads: Int, kvHeads: Int, headDim: Int,
        cache: (Int) -> (keys: KVRows, values: KVRows, positions: Int),
        longest: Int, output: UnsafeMutablePointer<Float>, pool: ThreadPool
    ) {
        guard tokens > 0 else { return }
        let group = heads / kvHeads
        let scale = 1 / Float(headDim).squareRoot()
        let perJob = headsPerJob(tokens: tokens, kvHeads: kvHeads, group: group, threads: pool.threadCount, headDim: headDim)
        let jobsPerKVHead = (group + perJob - 1) / perJob
        let jobsPerToken = kvHeads * jobsPerKVHead
        let jobs = tokens * jobsPerToken
        // Every token's rows have one type (the caches of a batch are made alike).
        let (firstKeys, firstValues, _) = cache(0)
        let tileFloats = tileFloats(firstKeys, firstValues, headDim: headDim)
        pool.parallelFor(count: jobs, chunk: max(1, jobs / (pool.threadCount * 8))) { range, worker in
            let scores = pool.scratch(worker: worker, count: 4 * longest + tileFloats)
            let tile = scores + 4 * longest
            for job in range {
                let t = job / jobsPerToken
                let kvHead = (job % jobsPerToken) / jobsPerKVHead
                let first = kvHead * group + (job % jobsPerKVHead) * perJob
                let count = min(perJob, (kvHead + 1) * group - first)
                let (keys, values, positions) = cache(t)
                let kvOffset = kvHead * headDim
                let row = (t * heads + first) * headDim
                let headKeys = keys.advanced(positions: 0, elements: kvOffset)
                let headValues = values.advanced(positions: 0, elements: kvOffset)
                if perJob == 1 {
                    attendOne(query: queries + row, keys: headKeys, values: headValues,
                              positions: positions, headDim: headDim, scale: scale, scores: scores, tile: tile, output: output + row)
                } else {
                    attendHeads(query: queries + row, count: count, keys: headKeys, values: headValues,
                                positions: positions, headDim: headDim, scale: scale,
                                scores: scores, tile: tile, output: output + row)
                }
            }
        }
    }
}
