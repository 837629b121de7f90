import LoomKernels

/// The decoder's forward pass, once, for every caller: a batch of rows, each a token at a
/// position of one sequence slot, through every layer, then the LM head for the rows that
/// want logits. ``InferenceSession`` is the one-slot case, ``MultiSequenceBatch`` the many-slot
/// case (continuous batching); both only validate and hand segments here.
///
/// The layer follows HF's `LlamaModel`/`Qwen2Model` (transformers
/// `models/llama/modeling_llama.py`), read top to bottom as llama2.c's `forward()` is:
/// pre-norm blocks, RMSNorm → Q/K/V (+ biases) → RoPE → causal grouped-query attention →
/// output projection → residual; RMSNorm → SwiGLU feed-forward → residual; final RMSNorm →
/// LM head. BitNet (transformers `models/bitnet/modeling_bitnet.py`) adds an RMSNorm before
/// each of the output and down projections and gates with relu² instead of SiLU. Activations stay in f32. Every product goes through one ``ProjectionSeam``.
///
/// Shapes below: `n` rows in this call, `d` embedding size, `qDim = heads × headDim`,
/// `kvDim = kvHeads × headDim`, `ffn` feed-forward size, `vocab` vocabulary size.
/// Not thread-safe: one caller drives it.
final class DecoderForward {
    let model: LanguageModel
    /// Most rows one call may run.
    let maxRows: Int
    let pool: ThreadPool
    private let seam: ProjectionSeam

    // Scratch, named by role.
    private let hidden: UnsafeMutablePointer<Float>        // [maxRows × d], the residual stream
    private let normed: UnsafeMutablePointer<Float>        // [maxRows × d], RMSNorm of `hidden`
    private let queries: UnsafeMutablePointer<Float>       // [maxRows × qDim], rotated queries
    private let newKeys: UnsafeMutablePointer<Float>       // [maxRows × kvDim], this batch's keys
    private let newValues: UnsafeMutablePointer<Float>     // [maxRows × kvDim], this batch's values
    private let attended: UnsafeMutablePointer<Float>      // [maxRows × qDim], attention output
    private let blockOutput: UnsafeMutablePointer<Float>   // [maxRows × d], o_proj / down_proj output
    private let ffnGate: UnsafeMutablePointer<Float>       // [maxRows × ffn], silu(gate)·up
    private let ffnUp: UnsafeMutablePointer<Float>         // [maxRows × ffn], up (batched path)
    private let ropeTable: UnsafeMutablePointer<Float>     // [maxRows × ropeDims], cos/sin per row
    /// Rows of logits computed together (one LM-head read per block).
    static let logitRows = 16
    private let logitBlock: UnsafeMutablePointer<Float>    // [logitRows × vocab]
    private let lastNormed: UnsafeMutablePointer<Float>    // [logitRows × d], LM-head input

    /// LoRA scales chosen per slot (slot → adapter id → scale), for batches whose rows belong
    /// to requests with different adapters; slots not listed use each adapter's own scale.
    var slotAdapterScales: [Int: [Int: Float]] = [:]
    private var rowScaleBuffers: [Int: UnsafeMutablePointer<Float>] = [:]   // id → [maxRows]
    private var headScaleBuffers: [Int: UnsafeMutablePointer<Float>] = [:]  // id → [logitRows]
    /// Slot of each batch row of the last ``run(_:caches:)``.
    private var rowSlots: [Int] = []
    /// Kind of each batch row of the last ``run(_:caches:)`` (its segment's, ``SequenceSegment/isDecode``).
    private var rowKinds: [ProjectionSeam.RowKind] = []

    init(model: LanguageModel, maxRows: Int, pool: ThreadPool, options: KernelOptions) {
        self.model = model
        self.maxRows = maxRows
        self.pool = pool
        seam = ProjectionSeam(pool: pool, options: Self.effectiveOptions(options))
        let c = model.config
        let d = c.embeddingSize, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        hidden = .allocate(capacity: maxRows * d)
        normed = .allocate(capacity: maxRows * d)
        queries = .allocate(capacity: maxRows * qDim)
        newKeys = .allocate(capacity: maxRows * kvDim)
        newValues = .allocate(capacity: maxRows * kvDim)
        attended = .allocate(capacity: maxRows * qDim)
        blockOutput = .allocate(capacity: maxRows * d)
        ffnGate = .allocate(capacity: maxRows * c.feedForwardSize)
        ffnUp = .allocate(capacity: maxRows * c.feedForwardSize)
        ropeTable = .allocate(capacity: maxRows * c.ropeDimensions)
        logitBlock = .allocate(capacity: Self.logitRows * c.vocabularySize)
        lastNormed = .allocate(capacity: Self.logitRows * d)
    }

    /// `options` as the decoder applies them (unchanged: batch-invariant prompt rows take the
    /// integer prompt kernel with its 15-bit activation codes, ``IntegerPromptKernel/promptCodeLimit``,
    /// which keeps them within the float path's accuracy; with 10-bit codes they were up to
    /// 0.085 off the float64 reference on Qwen2.5-0.5B, and the float path had to be used).
    static func effectiveOptions(_ options: KernelOptions) -> KernelOptions {
        options
    }

    deinit {
        for p in [hidden, normed, queries, newKeys, newValues, attended, blockOutput, ffnGate, ffnUp, ropeTable, logitBlock, lastNormed] {
            p.deallocate()
        }
        for p in rowScaleBuffers.values { p.deallocate() }
        for p in headScaleBuffers.values { p.deallocate() }
    }

    /// Checks `segments` against the vocabulary, `caches` and ``maxRows``, naming the first
    /// problem: empty input, a slot out of range or given twice, a token outside the
    /// vocabulary, or positions past a cache's capacity. `chunked`: the caller runs the
    /// segment in chunks of at most ``maxRows``, so its length is not limited here.
    func validate(_ segments: [SequenceSegment], caches: [KVCache], chunked: Bool = false) throws {
        let c = model.config
        let total = segments.reduce(0) { $0 + $1.tokens.count }
        guard total > 0, segments.allSatisfy({ !$0.tokens.isEmpty }) else { throw ModelError.emptyInput }
        guard chunked || total <= maxRows else { throw ModelError.contextFull(needed: total, capacity: maxRows) }
        var seen = Set<Int>()
        for s in segments {
            guard s.slot >= 0, s.slot < caches.count, seen.insert(s.slot).inserted else {
                throw ModelError.invalidMetadata(
                    key: "segment slot", reason: "slot \(s.slot) is out of range 0..<\(caches.count) or appears twice", path: model.path)
            }
            if let bad = s.tokens.first(where: { $0 < 0 || $0 >= c.vocabularySize }) {
                throw ModelError.tokenOutOfRange(token: bad, vocabularySize: c.vocabularySize)
            }
            guard s.start >= 0, s.start + s.tokens.count <= caches[s.slot].capacity else {
                throw ModelError.contextFull(needed: s.start + s.tokens.count, capacity: caches[s.slot].capacity)
            }
        }
    }

    /// Runs every segment (already validated) through every layer, writing each token's keys
    /// and values into its slot's cache; the final hidden states stay behind for
    /// ``logits(rows:_:)``, batch row `r` being the `r`-th token over all segments.
    ///
    /// Each row's products get the arithmetic of its kind (``BatchRows``): decode rows that
    /// of a one-token step, prompt rows that of the prompt kernels, whatever else shares the
    /// step (``KernelOptions/batchInvariant``).
    func run(_ segments: [SequenceSegment], caches: [KVCache]) {
        let c = model.config
        let w = model.weights
        let d = c.embeddingSize, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        // rows[r]: slot and position of batch row r; firstRow[s]: segment s's first row.
        var rows: [(slot: Int, position: Int)] = []
        var firstRow: [Int] = []
        for s in segments {
            firstRow.append(rows.count)
            caches[s.slot].reserve(positions: s.start + s.tokens.count)
            let rotary = model.rotaryEmbedding(for: caches[s.slot], start: s.start, end: s.effectiveRopeEnd)
            for (i, token) in s.tokens.enumerated() {
                w.tokenEmbedding.dequantizeRow(token, into: hidden + rows.count * d)
                rotary.fillTable(position: s.start + i, into: ropeTable + rows.count * c.ropeDimensions)
                rows.append((s.slot, s.start + i))
            }
        }
        let n = rows.count
        rowSlots = rows.map(\.slot)
        rowKinds = segments.flatMap { s in
            repeatElement(ProjectionSeam.RowKind(batch: s.isDecode ? .decode : .prompt, exact: s.isDraft), count: s.tokens.count)
        }
        let runs = seam.runs(rowKinds[...])
        let scales = adapterRowScales(slots: rowSlots[...], buffers: &rowScaleBuffers, capacity: maxRows)

        for (index, layer) in w.layers.enumerated() {
            // Attention block.
            rmsNorm(n, weight: layer.attentionNorm)
            seam.project(.init(layer.query, into: queries), .init(layer.key, into: newKeys), .init(layer.value, into: newValues),
                         input: normed, runs: runs, rowScales: scales)
            for r in 0..<n {
                let table = ropeTable + r * c.ropeDimensions
                model.rope.apply(queries + r * qDim, heads: c.headCount, headDim: c.headDim, table: table)
                model.rope.apply(newKeys + r * kvDim, heads: c.kvHeadCount, headDim: c.headDim, table: table)
            }
            for (s, segment) in segments.enumerated() {
                let cache = caches[segment.slot]
                let count = segment.tokens.count
                cache.store(layer: index, position: segment.start, keys: newKeys + firstRow[s] * kvDim,
                            values: newValues + firstRow[s] * kvDim, count: count)
            }
            attend(segments, rows: rows, caches: caches, layer: index)
            if let norm = layer.attentionSubNorm { subNorm(attended, rows: n, width: qDim, weight: norm) }
            seam.project(.init(layer.attentionOutput, into: blockOutput), input: attended, runs: runs, rowScales: scales)
            VectorOps.add(blockOutput, into: hidden, count: n * d)

            // Feed-forward block.
            rmsNorm(n, weight: layer.feedForwardNorm)
            seam.projectGated(gate: layer.gate, up: layer.up, input: normed, runs: runs,
                              gateOut: ffnGate, upOut: ffnUp, activation: c.feedForwardActivation, rowScales: scales)
            if let norm = layer.feedForwardSubNorm { subNorm(ffnGate, rows: n, width: c.feedForwardSize, weight: norm) }
            seam.project(.init(layer.down, into: blockOutput), input: ffnGate, runs: runs, rowScales: scales)
            VectorOps.add(blockOutput, into: hidden, count: n * d)
        }
    }

    /// Each row's scale for every adapter some slot of `slots` chose a scale for (the others
    /// keep the adapter's own); ``AdapterRowScales/none`` when no slot chose anything.
    private func adapterRowScales(slots: ArraySlice<Int>, buffers: inout [Int: UnsafeMutablePointer<Float>],
                                  capacity: Int) -> AdapterRowScales {
        guard !slotAdapterScales.isEmpty else { return .none }
        var ids = Set<Int>()
        for slot in Set(slots) { ids.formUnion(slotAdapterScales[slot]?.keys ?? [:].keys) }
        guard !ids.isEmpty else { return .none }
        var result = AdapterRowScales()
        for id in ids {
            let own = model.loraAdapters.first { $0.id == id }?.scale ?? 0
            let buffer = buffers[id] ?? .allocate(capacity: capacity)
            buffers[id] = buffer
            for (r, slot) in slots.enumerated() { buffer[r] = slotAdapterScales[slot]?[id] ?? own }
            result.scales[id] = UnsafePointer(buffer)
        }
        return result
    }

    /// `normed[r] = RMSNorm(hidden[r]) · weight` for the first `n` rows.
    private func rmsNorm(_ n: Int, weight: [Float]) {
        let c = model.config
        let d = c.embeddingSize
        for r in 0..<n {
            VectorOps.rmsNorm(hidden + r * d, weight: weight, eps: c.rmsEpsilon, into: normed + r * d, count: d)
        }
    }

    /// A sub-layer RMSNorm (BitNet's `attn_sub_norm` / `ffn_sub_norm`) of `rows` rows of
    /// `width` in place, through ``blockOutput``-sized scratch one row at a time.
    private func subNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, weight: [Float]) {
        let row = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { row.deallocate() }
        for r in 0..<rows {
            row.update(from: x + r * width, count: width)
            VectorOps.rmsNorm(row, weight: weight, eps: model.config.rmsEpsilon, into: x + r * width, count: width)
        }
    }

    /// Causal attention of every row over its own slot's cache: positions up to its own, and
    /// with a sliding window (``ModelConfig/slidingWindow`` W) only the last W of them.
    /// One segment inside the window: ``Attention/causal``, whose prompt jobs share each key
    /// and value tile among 32 (token, head) rows. Otherwise one ``Attention/decode`` loop over all
    /// rows, each over its own visible range, one dispatch per layer however many slots are
    /// busy.
    private func attend(_ segments: [SequenceSegment], rows: [(slot: Int, position: Int)], caches: [KVCache], layer: Int) {
        let c = model.config
        let window = c.slidingWindow ?? Int.max
        if segments.count == 1, let s = segments.first, s.start + s.tokens.count <= window {
            let cache = caches[s.slot]
            Attention.causal(
                queries: queries, keys: cache.keys(layer: layer), values: cache.values(layer: layer),
                start: s.start, tokens: s.tokens.count, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                output: attended, pool: pool)
            return
        }
        let keys = caches.map { $0.keys(layer: layer) }
        let values = caches.map { $0.values(layer: layer) }
        rows.withUnsafeBufferPointer { rows in
            keys.withUnsafeBufferPointer { keys in
                values.withUnsafeBufferPointer { values in
                    Attention.decode(
                        queries: queries, tokens: rows.count, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                        cache: { t in
                            // The first visible position: all of them, or the last `window`.
                            let first = max(0, rows[t].position + 1 - window)
                            return (keys[rows[t].slot].advanced(positions: first), values[rows[t].slot].advanced(positions: first),
                                    rows[t].position + 1 - first)
                        },
                        output: attended, pool: pool)
                }
            }
        }
    }

    /// Batch row `row`'s final hidden state after the output RMSNorm (the LM head's input,
    /// what llama.cpp pools for embeddings), `[d]`, written to `output`.
    func outputNormed(row: Int, into output: UnsafeMutablePointer<Float>) {
        let c = model.config
        VectorOps.rmsNorm(hidden + row * c.embeddingSize, weight: model.weights.outputNorm, eps: c.rmsEpsilon,
                          into: output, count: c.embeddingSize)
    }

    /// The logits of batch rows `rows` (of the last ``run(_:caches:)``), ``logitRows`` at a
    /// time: final RMSNorm, then the LM head, each row with its kind's arithmetic. `body` gets
    /// each entry's index in `rows` and its `[vocab]` logits, valid until the next call of
    /// this method or ``run(_:caches:)``.
    func logits(rows: [Int], _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
        let c = model.config
        let d = c.embeddingSize
        let vocab = c.vocabularySize
        var next = 0
        while next < rows.count {
            let count = min(Self.logitRows, rows.count - next)
            for i in 0..<count {
                VectorOps.rmsNorm(hidden + rows[next + i] * d, weight: model.weights.outputNorm, eps: c.rmsEpsilon,
                                  into: lastNormed + i * d, count: d)
            }
            let slots = (next..<next + count).map { rowSlots[rows[$0]] }
            let scales = adapterRowScales(slots: slots[...], buffers: &headScaleBuffers, capacity: Self.logitRows)
            let kinds = rows[next..<next + count].map { rowKinds[$0] }
            seam.project(.init(model.weights.output, into: logitBlock), input: lastNormed, runs: seam.runs(kinds[...]),
                         rowScales: scales)
            for i in 0..<count {
                body(next + i, UnsafeBufferPointer(start: logitBlock + i * vocab, count: vocab))
            }
            next += count
        }
    }
}
