import LoomKernels
import LoomModels

/// The decoder's forward and backward pass for LoRA training, in f32 (or mixed bf16/f16,
/// ``PrecisionPolicy``), on a frozen
/// ``LanguageModel``: the layer maths of Loom's inference forward pass (HF
/// `LlamaDecoderLayer`/`Qwen2DecoderLayer`, transformers `modeling_llama.py`: RMSNorm →
/// Q/K/V (+ bias) → RoPE → causal GQA → o_proj → residual; RMSNorm → SwiGLU → residual;
/// final RMSNorm → LM head) with `s·B·(A·x)` added to the adapted projections (PEFT), and
/// the causal-LM loss of `LlamaForCausalLM`.
///
/// Gradients flow to the LoRA factors (``factors``, accumulated; the caller zeroes them)
/// and, with `trainNorms`, to the RMSNorm weights of the adapted layers and the final norm
/// (``norms``). The embedding and base matrices are frozen and read in place in their
/// stored format (``FrozenProjection``). With `checkpointing`, a layer's activations are
/// not kept: only its input is, and the layer is recomputed during the backward pass. With
/// ``dropout``, each LoRA path sees its dropped-out input in train mode (``LoRADropout``).
///
/// For quantisation-aware training (``QATTrainer``) a projection may instead be a
/// ``QATProjection`` (``qat``): its fake-quantised latent weight replaces the frozen base
/// weight in both passes, and its weight gradient is accumulated.
public final class DecoderBackward: @unchecked Sendable {
    public let model: LanguageModel
    public let pool: ThreadPool
    public let checkpointing: Bool
    /// `factors[layer][module]`: the trained modules.
    public let factors: [[LoRAModule: LoRAFactors<Float>]]
    /// LoRA dropout in train mode (PEFT's `lora_dropout`); nil or p = 0 for none.
    public let dropout: LoRADropout?
    /// `qat[layer][module]`: projections trained whole under fake quantisation (empty
    /// dictionaries, or no layers at all, for LoRA training).
    public let qat: [[LoRAModule: QATProjection]]
    /// Bytes of saved activations of the last ``lossAndGradients(tokens:labels:gradScale:dropoutSite:)``.
    public private(set) var lastActivationBytes = 0
    /// Activations and gradients in f32, or rounded to bf16/f16 as under `torch.autocast`.
    public let precision: PrecisionPolicy
    /// Replaces ``LoRADropout/noise(at:count:)`` (tests: masks given by a PyTorch fixture).
    var noiseOverride: ((LoRADropout.Site, Int) -> [Float])?
    /// `reduced[layer][module]`: the LoRA paths in bf16/f16 (empty in f32).
    private let reduced: [[LoRAModule: ReducedPrecisionLoRA]]

    /// The sequence in progress: its dropout site (nil in eval mode or without dropout) and
    /// scratch `[n × widest projection]` for the dropped input, the LoRA path's output or
    /// output gradient, and its input gradient.
    private struct Work {
        var site: (step: Int, sequence: Int)?
        let dropped: TrainingBuffer<Float>, lora: TrainingBuffer<Float>, dxLoRA: TrainingBuffer<Float>, dxBase: TrainingBuffer<Float>
    }
    private var work: Work?
    /// The last call's buffers (``StepBuffers``), reused while the sequence length stays.
    private var buffers: StepBuffers?

    struct FrozenLayer {
        let norm1: TrainingBuffer<Float>, norm2: TrainingBuffer<Float>
        /// The norms' gradients when they are trained (their weights are norm1 and norm2).
        let trained: (norm1: TrainableNorm, norm2: TrainableNorm)?
        let projections: [LoRAModule: FrozenProjection]
    }
    /// The trained RMSNorm weights (empty unless `trainNorms`): each adapted layer's
    /// attention and feed-forward norms, in layer order, then the final norm.
    public let norms: [TrainableNorm]
    private let trainedFinalNorm: TrainableNorm?
    private let layers: [FrozenLayer]
    private let head: FrozenProjection
    private let finalNorm: TrainingBuffer<Float>
    private let attention: AttentionOp
    /// The tiled `Float` attention, for head sizes it supports.
    private let tiled: TiledAttention?
    /// The LM head with the loss, over chunks of the vocabulary.
    private let crossEntropy: ChunkedCrossEntropy
    /// Rows whose loss is computed together (``ChunkedCrossEntropy``: `logitRows × vocabChunk`
    /// logits at a time, 4 MB). Each block reads and packs the head matrix two or three times
    /// (the products and the transposed product), so larger blocks read it less often.
    static let logitRows = 512
    /// Vocabulary entries per chunk of the LM head.
    static let vocabChunk = 2048
    /// Logits a block keeps between the loss's two passes instead of multiplying the head
    /// again (128 MB: all of SmolLM2's for 512 rows; Qwen2's 152K vocabulary recomputes).
    static let keptLogits = 32 << 20

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for architectures with fused
    ///   projections (Phi-3), whose LoRA modules this trainer does not map yet.
    ///   With `qat`, f32 precision only and no LoRA factor on a QAT projection.
    public init(model: LanguageModel, factors: [[LoRAModule: LoRAFactors<Float>]], checkpointing: Bool,
                dropout: LoRADropout? = nil, precision: PrecisionPolicy = .f32, trainNorms: Bool = false,
                qat: [[LoRAModule: QATProjection]] = [], pool: ThreadPool) throws {
        let c = model.config
        guard !c.architecture.fusedQKV, !c.architecture.fusedGateUp else {
            throw TrainingError.invalidParameter("\(c.architecture.name) fuses its projections; LoRA training supports llama-style (separate q/k/v, gate/up) models")
        }
        guard !c.architecture.subLayerNorms, c.feedForwardActivation == .silu else {
            throw TrainingError.invalidParameter("\(c.architecture.name) has sub-layer norms and a relu² feed-forward; LoRA training supports the llama block")
        }
        guard model.weights.layers.allSatisfy({ $0.projections.allSatisfy { $0.bitLinear == nil } }) else {
            throw TrainingError.invalidParameter("\(model.path) has packed BitNet (ternary) projections; LoRA training needs block-format base weights")
        }
        precondition(factors.count == c.layerCount)
        precondition(qat.isEmpty || qat.count == c.layerCount)
        let hasQAT = qat.contains { !$0.isEmpty }
        if hasQAT {
            guard !precision.isReduced else {
                throw TrainingError.invalidParameter("quantisation-aware training runs in f32 only")
            }
            for (l, layer) in qat.enumerated() where layer.keys.contains(where: { factors[l][$0] != nil }) {
                throw TrainingError.invalidParameter("layer \(l): a projection cannot be both LoRA-adapted and QAT-trained")
            }
        }
        self.qat = hasQAT ? qat : Array(repeating: [:], count: c.layerCount)
        self.model = model
        self.factors = factors
        self.checkpointing = checkpointing
        self.dropout = dropout.flatMap { $0.probability > 0 ? $0 : nil }
        self.precision = precision
        reduced = factors.map { layer in precision.isReduced ? layer.mapValues { ReducedPrecisionLoRA($0, policy: precision) } : [:] }
        self.pool = pool
        // The norm buffers are copies, so training them leaves the model's own weights alone.
        layers = model.weights.layers.enumerated().map { index, l in
            let norm1 = TrainingBuffer(l.attentionNorm), norm2 = TrainingBuffer(l.feedForwardNorm)
            let trained = trainNorms && !factors[index].isEmpty
                ? (TrainableNorm(ggufName: TrainableNorm.attentionNormName(layer: index), weight: norm1),
                   TrainableNorm(ggufName: TrainableNorm.feedForwardNormName(layer: index), weight: norm2))
                : nil
            return FrozenLayer(norm1: norm1, norm2: norm2, trained: trained, projections: [
                .q: FrozenProjection(l.query), .k: FrozenProjection(l.key), .v: FrozenProjection(l.value),
                .o: FrozenProjection(l.attentionOutput), .gate: FrozenProjection(l.gate), .up: FrozenProjection(l.up),
                .down: FrozenProjection(l.down),
            ])
        }
        let head = FrozenProjection(weight: model.weights.output.weight, bias: model.weights.output.bias)
        self.head = head
        let finalNorm = TrainingBuffer(model.weights.outputNorm)
        self.finalNorm = finalNorm
        trainedFinalNorm = trainNorms ? TrainableNorm(ggufName: TrainableNorm.finalNormName, weight: finalNorm) : nil
        norms = layers.flatMap { $0.trained.map { [$0.norm1, $0.norm2] } ?? [] } + (trainedFinalNorm.map { [$0] } ?? [])
        let attention = AttentionOp(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, window: c.slidingWindow)
        self.attention = attention
        tiled = TiledAttention.supports(attention) ? TiledAttention(attention) : nil
        crossEntropy = ChunkedCrossEntropy(head: head, vocabChunk: Self.vocabChunk, keptLogits: Self.keptLogits)
    }

    private var dims: (d: Int, q: Int, kv: Int, heads: Int, ffn: Int) {
        let c = model.config
        return (c.embeddingSize, c.headCount * c.headDim, c.kvHeadCount * c.headDim, c.headCount, c.feedForwardSize)
    }

    /// The buffers for `n`-token sequences: the last call's when it had the same length.
    private func stepBuffers(_ n: Int) -> StepBuffers {
        if let kept = buffers, kept.tokens == n { return kept }
        buffers = nil   // the old ones go before the new ones are allocated
        let s = dims, rank = factors.lazy.flatMap(\.values).map(\.rank).max() ?? 1
        let made = TrainingProfile.time("buffers") {
            StepBuffers(tokens: n, layers: model.config.layerCount, keepsEveryLayer: !checkpointing && !precision.isReduced,
                        checkpointing: checkpointing, rank: rank,
                        make: { LayerActivations(tokens: n, d: s.d, qDim: s.q, kvDim: s.kv, heads: s.heads, ffn: s.ffn) },
                        d: s.d, qDim: s.q, kvDim: s.kv, ffn: s.ffn)
        }
        buffers = made
        return made
    }

    /// The dropout noise of module `m` of layer `l` for the sequence in progress (nil in eval
    /// mode or without dropout). Forward and backward (and a checkpointed recomputation) get
    /// the same noise: it is a function of the site.
    private func dropoutNoise(_ l: Int, _ m: LoRAModule, count: Int) -> [Float]? {
        guard let dropout, let active = work?.site else { return nil }
        let site = LoRADropout.Site(step: active.step, sequence: active.sequence, layer: l, module: m)
        return noiseOverride?(site, count) ?? dropout.noise(at: site, count: count)
    }

    /// `y = base(x) (+ LoRA)` for module `m` of layer `l`.
    private func project(_ l: Int, _ m: LoRAModule, _ x: TrainingBuffer<Float>, _ n: Int, into y: TrainingBuffer<Float>,
                         scratch: TrainingBuffer<Float>) {
        if let q = qat[l][m] {
            // The scratch must outlive the call (Swift may free an object right after its last
            // use, which here is reading its pointer).
            let xEff = TrainingBuffer<Float>(zeros: n * q.inputs)
            withExtendedLifetime(xEff) {
                TrainingProfile.time("qat forward") { q.forward(x.pointer, tokens: n, into: y.pointer, xEff: xEff.pointer, pool: pool) }
            }
            return
        }
        let base = layers[l].projections[m]!
        TrainingProfile.time("frozen forward") { base.forward(x.pointer, tokens: n, into: y.pointer, pool: pool) }
        if let low = reduced[l][m], let work {
            // PEFT under autocast: round(round(base) + round(lora·s)), the LoRA input rounded.
            precision.round(y.pointer, count: n * base.outputs)
            var input = x.pointer
            if let noise = dropoutNoise(l, m, count: n * low.factors.inputs) {
                for i in 0..<noise.count { work.dropped[i] = precision.round(x[i] * noise[i]) }
                input = work.dropped.pointer
            }
            low.forward(input, tokens: n, into: work.lora.pointer, scratch: scratch.pointer)
            for i in 0..<n * base.outputs { y[i] = precision.round(y[i] + work.lora[i]) }
            return
        }
        precision.round(y.pointer, count: n * base.outputs)
        guard let f = factors[l][m] else { return }
        if let noise = dropoutNoise(l, m, count: n * f.inputs), let work {
            LoRADropout.forward(f, x.pointer, noise: noise, tokens: n, addingInto: y.pointer, dropped: work.dropped.pointer,
                                scratch: scratch.pointer)
        } else {
            TrainingProfile.time("lora forward") {
                f.forward(x.pointer, tokens: n, addingInto: y.pointer, scratch: scratch.pointer, pool: pool)
            }
        }
    }

    /// `dx += ∂L/∂x` through module `m` of layer `l` (base and LoRA), accumulating the LoRA
    /// factors' gradients.
    private func projectBackward(_ l: Int, _ m: LoRAModule, dy: TrainingBuffer<Float>, x: TrainingBuffer<Float>, _ n: Int,
                                 into dx: TrainingBuffer<Float>, scratch: (TrainingBuffer<Float>, TrainingBuffer<Float>)) {
        if let q = qat[l][m] {
            let xEff = TrainingBuffer<Float>(zeros: n * q.inputs), dyT = TrainingBuffer<Float>(zeros: n * q.outputs)
            withExtendedLifetime((xEff, dyT)) {
                TrainingProfile.time("qat backward") {
                    q.backward(dy.pointer, x: x.pointer, tokens: n, addingInto: dx.pointer, xEff: xEff.pointer, dyT: dyT.pointer, pool: pool)
                }
            }
            return
        }
        let base = layers[l].projections[m]!
        if precision.isReduced, let work {
            // Each 16-bit matmul's input gradient is rounded; the base and LoRA paths' meet in f32.
            let count = n * base.inputs
            work.dxBase.pointer.update(repeating: 0, count: count)
            base.accumulateInputGradient(dy.pointer, tokens: n, into: work.dxBase.pointer, pool: pool)
            for i in 0..<count { dx[i] += precision.round(work.dxBase[i]) }
            guard let low = reduced[l][m] else { return }
            var input = x.pointer
            let noise = dropoutNoise(l, m, count: count)
            if let noise {
                for i in 0..<count { work.dropped[i] = precision.round(x[i] * noise[i]) }
                input = work.dropped.pointer
            }
            low.backward(dy.pointer, x: input, tokens: n, into: work.dxLoRA.pointer, d: work.lora.pointer,
                         u: scratch.0.pointer, du: scratch.1.pointer)
            if let noise {
                for i in 0..<count { dx[i] += work.dxLoRA[i] * noise[i] }
            } else {
                for i in 0..<count { dx[i] += work.dxLoRA[i] }
            }
            return
        }
        TrainingProfile.time("frozen backward") { base.accumulateInputGradient(dy.pointer, tokens: n, into: dx.pointer, pool: pool) }
        guard let f = factors[l][m] else { return }
        if let noise = dropoutNoise(l, m, count: n * f.inputs), let work {
            LoRADropout.backward(f, dy.pointer, x: x.pointer, noise: noise, tokens: n, addingInto: dx.pointer,
                                 dropped: work.dropped.pointer, dxLoRA: work.dxLoRA.pointer,
                                 scratch: scratch.0.pointer, scratch.1.pointer)
        } else {
            TrainingProfile.time("lora backward") {
                f.backward(dy.pointer, x: x.pointer, tokens: n, addingInto: dx.pointer, scratch: scratch.0.pointer, scratch.1.pointer,
                           pool: pool)
            }
        }
    }

    /// Layer `l`'s forward pass on `a.input`, filling `a`; the layer's output goes to `out`.
    private func forwardLayer(_ l: Int, _ a: LayerActivations, _ n: Int, rope: RoPEOp<Float>, out: TrainingBuffer<Float>,
                              scratch: TrainingBuffer<Float>) {
        let s = dims, c = model.config, L = layers[l]
        inRows(n) { r in
            RMSNormOp.forward(a.input.pointer + r.lowerBound * s.d, weight: L.norm1.pointer, rows: r.count, dim: s.d, eps: c.rmsEpsilon,
                              into: a.normed1.pointer + r.lowerBound * s.d, inverseRMS: a.rms1.pointer + r.lowerBound)
        }
        precision.round(a.normed1)   // autocast casts the projections' input
        project(l, .q, a.normed1, n, into: a.q, scratch: scratch)
        project(l, .k, a.normed1, n, into: a.k, scratch: scratch)
        project(l, .v, a.normed1, n, into: a.v, scratch: scratch)
        inRows(n, "RoPE") { r in
            rope.apply(a.q.pointer, rows: r, heads: c.headCount, headDim: c.headDim)
            rope.apply(a.k.pointer, rows: r, heads: c.kvHeadCount, headDim: c.headDim)
        }
        precision.round(a.q)         // RoPE ran in f32; attention reads 16-bit q, k
        precision.round(a.k)
        TrainingProfile.time("attention forward") {
            if let tiled {
                tiled.forward(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, n: n, out: a.attended.pointer, lse: a.lse.pointer, pool: pool)
            } else {
                attention.forward(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, n: n, out: a.attended.pointer, lse: a.lse.pointer, pool: pool)
            }
        }
        precision.round(a.attended)  // and returns 16-bit
        project(l, .o, a.attended, n, into: out, scratch: scratch)
        inRows(n) { r in
            for i in r.lowerBound * s.d..<r.upperBound * s.d { a.mid[i] = a.input[i] + out[i] }
            RMSNormOp.forward(a.mid.pointer + r.lowerBound * s.d, weight: L.norm2.pointer, rows: r.count, dim: s.d, eps: c.rmsEpsilon,
                              into: a.normed2.pointer + r.lowerBound * s.d, inverseRMS: a.rms2.pointer + r.lowerBound)
        }
        precision.round(a.normed2)
        project(l, .gate, a.normed2, n, into: a.gate, scratch: scratch)
        project(l, .up, a.normed2, n, into: a.up, scratch: scratch)
        inRows(n, "SwiGLU") { r in
            let o = r.lowerBound * s.ffn
            SwiGLUOp.forward(gate: a.gate.pointer + o, up: a.up.pointer + o, count: r.count * s.ffn, into: a.act.pointer + o)
        }
        precision.round(a.act)
        project(l, .down, a.act, n, into: out, scratch: scratch)
        inRows(n) { r in
            for i in r.lowerBound * s.d..<r.upperBound * s.d { out[i] += a.mid[i] }
        }
    }

    /// Layer `l`'s backward pass: `dOut` (∂L/∂output) in, ∂L/∂input written to `dIn`.
    private func backwardLayer(_ l: Int, _ a: LayerActivations, _ n: Int, rope: RoPEOp<Float>, dOut: TrainingBuffer<Float>,
                               dIn: TrainingBuffer<Float>, temporaries t: BackwardScratch,
                               scratch: (TrainingBuffer<Float>, TrainingBuffer<Float>)) {
        let s = dims, c = model.config, L = layers[l]
        t.zeroAccumulators()
        // Feed-forward block: out = mid + down(silu(gate(n2))·up(n2)).
        // In bf16/f16 the gradient of each 16-bit tensor is rounded (see PrecisionPolicy).
        let dAct = t.dAct
        projectBackward(l, .down, dy: rounded(dOut), x: a.act, n, into: dAct, scratch: scratch)
        precision.round(dAct)
        let dGate = t.dGate, dUp = t.dUp
        inRows(n, "SwiGLU") { r in
            let o = r.lowerBound * s.ffn
            SwiGLUOp.backward(dAct.pointer + o, gate: a.gate.pointer + o, up: a.up.pointer + o, count: r.count * s.ffn,
                              dGate: dGate.pointer + o, dUp: dUp.pointer + o)
        }
        precision.round(dGate)
        precision.round(dUp)
        let dNormed = t.dNormed
        projectBackward(l, .gate, dy: dGate, x: a.normed2, n, into: dNormed, scratch: scratch)
        projectBackward(l, .up, dy: dUp, x: a.normed2, n, into: dNormed, scratch: scratch)
        let dMid = t.dMid
        dMid.pointer.update(from: dOut.pointer, count: n * s.d)
        normBackward(dNormed, x: a.mid, weight: L.norm2, inverseRMS: a.rms2, n, addingInto: dMid, dWeight: L.trained?.norm2.gradient)
        // Attention block: mid = input + o(attention(rope(q(n1)), rope(k(n1)), v(n1))).
        let dAttended = t.dAttended
        projectBackward(l, .o, dy: rounded(dMid), x: a.attended, n, into: dAttended, scratch: scratch)
        precision.round(dAttended)
        let dq = t.dq, dk = t.dk, dv = t.dv
        TrainingProfile.time("attention backward") {
            if let tiled {
                tiled.backward(dOut: dAttended.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, out: a.attended.pointer,
                               lse: a.lse.pointer, n: n, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, pool: pool)
            } else {
                attention.backward(dOut: dAttended.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, out: a.attended.pointer,
                                   lse: a.lse.pointer, n: n, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, pool: pool)
            }
        }
        for g in [dq, dk, dv] { precision.round(g) }
        inRows(n, "RoPE") { r in
            rope.apply(dq.pointer, rows: r, heads: c.headCount, headDim: c.headDim, inverse: true)
            rope.apply(dk.pointer, rows: r, heads: c.kvHeadCount, headDim: c.headDim, inverse: true)
        }
        precision.round(dq)          // the gradients of the 16-bit projection outputs
        precision.round(dk)
        dNormed.zero()
        projectBackward(l, .q, dy: dq, x: a.normed1, n, into: dNormed, scratch: scratch)
        projectBackward(l, .k, dy: dk, x: a.normed1, n, into: dNormed, scratch: scratch)
        projectBackward(l, .v, dy: dv, x: a.normed1, n, into: dNormed, scratch: scratch)
        dIn.pointer.update(from: dMid.pointer, count: n * s.d)
        normBackward(dNormed, x: a.input, weight: L.norm1, inverseRMS: a.rms1, n, addingInto: dIn, dWeight: L.trained?.norm1.gradient)
    }

    /// RMSNorm backward of `n` rows into `dx`, and into `dWeight` when the norm is trained.
    /// The weight gradient sums over every row, so that case is one pass on this thread; the
    /// input gradient alone splits its rows across the pool.
    private func normBackward(_ dy: TrainingBuffer<Float>, x: TrainingBuffer<Float>, weight: TrainingBuffer<Float>,
                              inverseRMS: TrainingBuffer<Float>, _ n: Int, addingInto dx: TrainingBuffer<Float>,
                              dWeight: TrainingBuffer<Float>?) {
        let d = model.config.embeddingSize
        if let dWeight {
            RMSNormOp.backward(dy.pointer, x: x.pointer, weight: weight.pointer, inverseRMS: inverseRMS.pointer,
                               rows: n, dim: d, addingInto: dx.pointer, dWeight: dWeight.pointer)
            return
        }
        inRows(n) { r in
            let o = r.lowerBound * d
            RMSNormOp.backward(dy.pointer + o, x: x.pointer + o, weight: weight.pointer, inverseRMS: inverseRMS.pointer + r.lowerBound,
                               rows: r.count, dim: d, addingInto: dx.pointer + o)
        }
    }

    /// Runs `body` over token rows `0..<n` split across the pool: for the per-row and
    /// element-wise ops (norms, SwiGLU, residual adds), which compute every row as they do
    /// serially. Run on the training thread alone they took ≈ 10 % of a 512-token step
    /// while the other core waited.
    private func inRows(_ n: Int, _ label: String = "norms and residuals", _ body: (Range<Int>) -> Void) {
        TrainingProfile.time(label) {
            pool.parallelFor(count: n, chunk: max(8, n / (pool.threadCount * 4))) { range, _ in body(range) }
        }
    }

    /// `g` rounded to the 16-bit format (a copy; `g` itself in f32): the gradient entering a
    /// 16-bit branch of the f32 residual stream.
    private func rounded(_ g: TrainingBuffer<Float>) -> TrainingBuffer<Float> {
        guard precision.isReduced else { return g }
        let copy = TrainingBuffer<Float>(zeros: g.count)
        for i in 0..<g.count { copy[i] = precision.round(g[i]) }
        return copy
    }

    /// Runs one sequence forward and backward: returns the summed cross-entropy of its
    /// non-ignored shifted labels and adds `gradScale ×` their gradients to ``factors`` (and
    /// ``norms``).
    /// `gradScale` is 1/(non-ignored labels in the whole batch) for the batch mean.
    /// Tokens and labels must be valid (``LoRATrainer`` checks them).
    ///
    /// `dropoutSite` (the optimiser step and the sequence's index in it) puts the pass in
    /// train mode: ``dropout``, if any, is applied with the masks of that site. nil is eval
    /// mode (no dropout), as PEFT after `model.eval()`.
    public func lossAndGradients(tokens: [Int32], labels: [Int32], gradScale: Float,
                                 dropoutSite: (step: Int, sequence: Int)? = nil) -> Double {
        let c = model.config, s = dims, n = tokens.count
        let buffers = stepBuffers(n)
        let scratch = buffers.rankScratch
        let site = dropout == nil ? nil : dropoutSite
        if site != nil || precision.isReduced {
            let widest = n * max(s.d, s.q, s.ffn)
            func buffer() -> TrainingBuffer<Float> { TrainingBuffer(zeros: widest) }
            work = Work(site: site, dropped: buffer(), lora: buffer(), dxLoRA: buffer(), dxBase: precision.isReduced ? buffer() : TrainingBuffer(zeros: 0))
            for layer in reduced { for low in layer.values { low.refresh() } }
        } else {
            work = nil
        }
        defer { work = nil }
        let rope = RoPEOp<Float>(model.rotaryEmbedding(sequenceLength: n), positions: Array(0..<n))
        // Forward: embeddings, then every layer, keeping its activations (or only its input).
        var hidden = buffers.hidden[0]
        for (t, token) in tokens.enumerated() {
            model.weights.tokenEmbedding.dequantizeRow(Int(token), into: hidden.pointer + t * s.d)
        }
        // In bf16/f16 a kept layer is packed to 16 bits (PackedLayerActivations) and unpacked
        // into one working layer for its backward pass. Checkpointed layer inputs are the f32
        // residual stream (f32 under autocast too), so they stay f32.
        var saved: [LayerActivations] = [], packed: [PackedLayerActivations] = []
        var inputs: [TrainingBuffer<Float>] = []
        let shared = checkpointing || precision.isReduced ? buffers.activations[0] : nil
        for l in 0..<c.layerCount {
            let a = shared ?? buffers.activations[l]
            a.input.pointer.update(from: hidden.pointer, count: n * s.d)
            let out = buffers.hidden[checkpointing ? l + 1 : (l + 1) % 2]
            forwardLayer(l, a, n, rope: rope, out: out, scratch: scratch.0)
            if checkpointing {
                inputs.append(hidden)
            } else if precision.isReduced {
                packed.append(PackedLayerActivations(a, policy: precision))
            } else {
                saved.append(a)
            }
            hidden = out
        }
        lastActivationBytes = checkpointing
            ? inputs.count * n * s.d * 4 + (shared?.bytes ?? 0)
            : saved.reduce(0) { $0 + $1.bytes } + packed.reduce(0) { $0 + $1.bytes } + (shared?.bytes ?? 0)
        // Final norm and the LM head with the loss, `logitRows` rows at a time.
        let normed = buffers.normed, rms = buffers.rms
        RMSNormOp.forward(hidden.pointer, weight: finalNorm.pointer, rows: n, dim: s.d, eps: c.rmsEpsilon,
                          into: normed.pointer, inverseRMS: rms.pointer)
        precision.round(normed)
        let targets = CrossEntropyOp.shiftedTargets(labels)
        let dNormed = buffers.dNormed
        dNormed.zero()
        var loss = 0.0
        var r0 = 0
        while r0 < n {
            let rows = min(Self.logitRows, n - r0)
            if targets[r0..<r0 + rows].contains(where: { $0 != CrossEntropyOp.ignoreIndex }) {
                loss += TrainingProfile.time("LM head and loss") {
                    targets.withUnsafeBufferPointer {
                        crossEntropy.lossAndInputGradient(normed.pointer + r0 * s.d, targets: $0.baseAddress! + r0, rows: rows,
                                                          addingInto: dNormed.pointer + r0 * s.d, gradScale: gradScale,
                                                          precision: precision, pool: pool)
                    }
                }
            }
            r0 += rows
        }
        precision.round(dNormed)   // each row is one 16-bit product of the head
        var (dHidden, dIn) = buffers.dHidden
        dHidden.zero()
        RMSNormOp.backward(dNormed.pointer, x: hidden.pointer, weight: finalNorm.pointer, inverseRMS: rms.pointer,
                           rows: n, dim: s.d, addingInto: dHidden.pointer, dWeight: trainedFinalNorm?.gradient.pointer)
        // Backward through the layers, last first (recomputing each one when checkpointing).
        // Below the lowest adapted (or QAT-trained) layer nothing is trained: the backward pass stops there.
        let lowest = (0..<c.layerCount).first { !factors[$0].isEmpty || !qat[$0].isEmpty } ?? c.layerCount
        for l in stride(from: c.layerCount - 1, through: lowest, by: -1) {
            let a: LayerActivations
            if let shared, checkpointing {
                shared.input.pointer.update(from: inputs[l].pointer, count: n * s.d)
                forwardLayer(l, shared, n, rope: rope, out: buffers.recomputed, scratch: scratch.0)
                a = shared
            } else if let shared {
                packed[l].unpack(into: shared, policy: precision)
                a = shared
            } else {
                a = saved[l]
            }
            backwardLayer(l, a, n, rope: rope, dOut: dHidden, dIn: dIn, temporaries: buffers.scratch, scratch: scratch)
            swap(&dHidden, &dIn)
        }
        return loss
    }
}
