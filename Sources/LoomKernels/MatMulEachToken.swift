// Batch-invariant decode steps: every token of a batch of independent decode rows gets
// exactly the arithmetic of a one-token product (issue 26: "a row's result must not depend
// on which other rows share the step").
//
// The one-token kernels are the reference: plain decoding runs them, so a server step, a
// speculative verification or a batch of LM-head rows that runs them too gives each row the
// logits plain decoding gives it, bit for bit. The small-batch kernels (``IntegerLaneBatchKernel``,
// ``IntegerBatchKernels``, the dot form) share work across tokens and round differently;
// measured on SmolLM2 they moved log-probs by 0.01–0.02, enough to flip greedy near-ties and
// to make a server's answers depend on its load.
//
// The weights are still read from memory once per step: each participant walks its rows in
// tiles small enough to stay in L1/L2 (``eachTokenTileRows(_:)``) and runs every token over a
// tile before the next, so the batch costs one weight stream plus the per-token arithmetic.
// What is lost is the shared unpacking of each weight block across tokens; BENCHMARKS.md has
// the measured cost against the small-batch kernels (`loom serve --no-batch-invariant`).
//
// Two exceptions share it, tokens in lanes with exactly the one-token arithmetic:
// - Q4_0, Q5_0 and Q8_0 rows whose one-token kernel is the pairwise 16-bit dot
//   (``pairwiseDot``: Q8_0 always, Q4_0 and Q5_0 where the byte dot is not native) take
//   ``IntegerPromptKernel`` (IntegerPromptKernelTests pins it); it measured ≈ 2× the
//   per-token loop for Q4_0 at 8 tokens.
// - Q4_1 and Q5_1 rows where the byte dot is not native take ``IntegerLaneBatchKernel``,
//   eight tokens per pass over each unpacked tile: their one-token kernel
//   (IntegerDotOffset.swift) keeps one float chain per row in block order, which is what the
//   lane kernel does per lane (OffsetIntegerKernelTests pins it); 1–3 tokens after the last
//   whole group of 8 run the one-token kernel over the tile instead (``laneRemainder(tokens:)``:
//   a lane pass costs as much for one token as for eight). This is what makes speculative
//   verification and `--deterministic` server steps of SmolLM2 (Q4_1) cost less than one
//   decode step per row; BENCHMARKS.md has the numbers.

extension MatMul {
    /// Rows of `w` a participant runs every token over before moving on: about 16 KB of
    /// weights (a multiple of four, the decode kernels' row group, from 4 to 64 rows).
    @inline(__always)
    static func eachTokenTileRows(_ w: WeightMatrix) -> Int {
        max(4, min(64, (16 << 10) / max(1, w.rowBytes)) / 4 * 4)
    }

    /// Whether ``IntegerPromptKernel`` computes a row of `type` exactly as its one-token
    /// integer kernel does (the pairwise dot, not the byte dot).
    static func promptKernelMatchesOneToken(_ type: GGMLType) -> Bool {
        IntegerPromptKernel.supports(type) && IntegerRowKernels.isPreferred(type) && !IntegerDotBytes.isOneTokenKernel(for: type)
    }

    /// Whether ``IntegerLaneBatchKernel`` computes a row of `type` exactly as its one-token
    /// integer kernel does (Q4_1 and Q5_1 where the byte dot is not native: IntegerDotOffset.swift).
    static func laneKernelMatchesOneToken(_ type: GGMLType) -> Bool {
        (type == .q4_1 || type == .q5_1) && IntegerRowKernels.isPreferred(type) && !IntegerDotBytes.isNative
    }

    /// `y[t] = W·x[t]` (+ bias) for every token t of `x` (`[tokens × columns]`) and every
    /// target, each token computed exactly as ``multiply(_:_:_:_:tokens:pool:batch:options:)``
    /// computes a single token: the same activation quantisation, the same kernel choice per
    /// target, the same row kernels.
    static func multiplyEachToken(
        _ a: MatMulTarget, _ b: MatMulTarget?, _ c: MatMulTarget?, _ x: UnsafePointer<Float>, tokens: Int,
        pool: ThreadPool, options: KernelOptions
    ) {
        let total = a.matrix.rows + (b?.matrix.rows ?? 0) + (c?.matrix.rows ?? 0)
        let maxColumns = max(a.matrix.columns, b?.matrix.columns ?? 0, c?.matrix.columns ?? 0)
        // The one-token path's choices, made once for the dispatch as it makes them.
        let integer = options.integerActivations && maxColumns % QuantizedActivations.blockSize == 0
            && anyTakes(a, b, c, columns: nil, IntegerRowKernels.isPreferred)
        let ternary = options.integerActivations && maxColumns % TernaryActivations.blockSize == 0
            && anyTakes(a, b, c, columns: nil, TernaryKernels.supports)
        let activations = integer ? pool.tokenActivations.quantize(x, columns: maxColumns, tokens: tokens) : nil
        let ternaryActivations = ternary ? pool.tokenActivations.quantizeTernary(x, columns: maxColumns, tokens: tokens) : nil
        // Tokens in lanes where that is the one-token arithmetic: prepared behind worker 0's tile.
        let lanes = integer && anyTakes(a, b, c, columns: maxColumns, promptKernelMatchesOneToken)
        let laneGroups = integer && anyTakes(a, b, c, columns: maxColumns, laneKernelMatchesOneToken)
        let tileCount = max(rowChunk * maxColumns, laneGroups ? IntegerLaneBatchKernel.tileWords(rows: laneTileRows, columns: maxColumns) : 0)
        let promptCount = lanes ? IntegerPromptKernel.preparedWords(tokens: tokens, columns: maxColumns) : 0
        let laneCount = laneGroups
            ? IntegerPromptKernel.groups(tokens: tokens, lanes: IntegerLaneBatchKernel.maxTokens) * IntegerLaneBatchKernel.preparedWords(columns: maxColumns) : 0
        let scratchCount = tileCount + promptCount + laneCount
        var prepared: UnsafeRawPointer? = nil
        var lanePrepared: UnsafeRawPointer? = nil
        if lanes || laneGroups {
            let scratch0 = pool.scratch(worker: 0, count: scratchCount)
            if lanes {
                let xp = UnsafeMutableRawPointer(scratch0 + tileCount)
                IntegerPromptKernel.prepare(x, tokens: tokens, columns: maxColumns, into: xp, pool: pool)
                prepared = UnsafeRawPointer(xp)
            }
            if let activations, laneGroups {
                let xl = UnsafeMutableRawPointer(scratch0 + tileCount + promptCount)
                IntegerLaneBatchKernel.prepare(activations, tokens: tokens, columns: maxColumns, into: xl)
                lanePrepared = UnsafeRawPointer(xl)
            }
        }
        pool.parallelFor(count: total, chunk: decodeChunk(rows: total, pool, options), minimumChunk: rowChunk / 2) { range, worker in
            forEachTarget(range, a, b, c) { target, local in
                let w = target.matrix
                let type = w.type
                if let prepared, takes(target, columns: maxColumns, promptKernelMatchesOneToken) {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    multiplyRowsIntegerPrompt(target, local, prepared, tokens: tokens, scratch: UnsafeMutableRawPointer(scratch))
                    return
                }
                if let lanePrepared, takes(target, columns: maxColumns, laneKernelMatchesOneToken) {
                    let scratch = pool.scratch(worker: worker, count: worker == 0 ? scratchCount : tileCount)
                    let rest = laneRemainder(tokens: tokens)
                    multiplyRowsLaneBatch(target, local, lanePrepared, tokens: tokens, prefetchDistance: options.lanePrefetchDistance,
                                          scratch: UnsafeMutableRawPointer(scratch),
                                          oneToken: rest > 0 ? activations.map { ($0, tokens - rest) } : nil, options: options)
                    return
                }
                forEachTile(local, size: eachTokenTileRows(w)) { tile in
                    for t in 0..<tokens {
                        let one = MatMulTarget(w, target.output + t * w.rows, bias: target.bias)
                        if let ternaryActivations, TernaryKernels.supports(type) {
                            multiplyRowsTernary(one, tile, ternaryActivations[t], options)
                        } else if let activations, IntegerRowKernels.isPreferred(type) {
                            multiplyRowsInteger(one, tile, activations[t], options)
                        } else {
                            multiplyRowsOneToken(one, tile, x + t * maxColumns, options)
                        }
                    }
                }
            }
        }
    }
}
