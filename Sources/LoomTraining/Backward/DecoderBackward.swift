import LoomKernels
import LoomModels

/// The decoder's forward and backward pass for LoRA training, in f32, on a frozen
/// ``LanguageModel``: the layer maths of Loom's inference forward pass (HF
/// `LlamaDecoderLayer`/`Qwen2DecoderLayer`, transformers `modeling_llama.py`: RMSNorm →
/// Q/K/V (+ bias) → RoPE → causal GQA → o_proj → residual; RMSNorm → SwiGLU → residual;
/// final RMSNorm → LM head) with `s·B·(A·x)` added to the adapted projections (PEFT), and
/// the causal-LM loss of `LlamaForCausalLM`.
///
/// Gradients flow to the LoRA factors only (``factors``, accumulated; the caller zeroes
/// them). The embedding, norms and base matrices are frozen and read in place in their
/// stored format (``FrozenProjection``). With `checkpointing`, a layer's activations are
/// not kept: only its input is, and the layer is recomputed during the backward pass.
public final class DecoderBackward: @unchecked Sendable {
    public let model: LanguageModel
    public let pool: ThreadPool
    public let checkpointing: Bool
    /// `factors[layer][module]`: the trained modules.
    public let factors: [[LoRAModule: LoRAFactors<Float>]]
    /// Bytes of saved activations of the last ``lossAndGradients(tokens:labels:gradScale:)``.
    public private(set) var lastActivationBytes = 0

    struct FrozenLayer {
        let norm1: TrainingBuffer<Float>, norm2: TrainingBuffer<Float>
        let projections: [LoRAModule: FrozenProjection]
    }
    private let layers: [FrozenLayer]
    private let head: FrozenProjection
    private let finalNorm: TrainingBuffer<Float>
    private let attention: AttentionOp
    /// The tiled `Float` attention, for head sizes it supports.
    private let tiled: TiledAttention?
    /// The LM head with the loss, over chunks of the vocabulary.
    private let crossEntropy: ChunkedCrossEntropy
    /// Rows whose loss is computed together (``ChunkedCrossEntropy``: `logitRows × vocabChunk`
    /// logits at a time, 1 MB). Each block reads the head matrix three times (two products
    /// and the transposed product), so larger blocks read it less often.
    static let logitRows = 128
    /// Vocabulary entries per chunk of the LM head.
    static let vocabChunk = 2048

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for architectures with fused
    ///   projections (Phi-3), whose LoRA modules this trainer does not map yet.
    public init(model: LanguageModel, factors: [[LoRAModule: LoRAFactors<Float>]], checkpointing: Bool, pool: ThreadPool) throws {
        let c = model.config
        guard !c.architecture.fusedQKV, !c.architecture.fusedGateUp else {
            throw TrainingError.invalidParameter("\(c.architecture.name) fuses its projections; LoRA training supports llama-style (separate q/k/v, gate/up) models")
        }
        precondition(factors.count == c.layerCount)
        self.model = model
        self.factors = factors
        self.checkpointing = checkpointing
        self.pool = pool
        layers = model.weights.layers.map { l in
            FrozenLayer(norm1: TrainingBuffer(l.attentionNorm), norm2: TrainingBuffer(l.feedForwardNorm), projections: [
                .q: FrozenProjection(l.query), .k: FrozenProjection(l.key), .v: FrozenProjection(l.value),
                .o: FrozenProjection(l.attentionOutput), .gate: FrozenProjection(l.gate), .up: FrozenProjection(l.up),
                .down: FrozenProjection(l.down),
            ])
        }
        let head = FrozenProjection(weight: model.weights.output.weight, bias: model.weights.output.bias)
        self.head = head
        finalNorm = TrainingBuffer(model.weights.outputNorm)
        let attention = AttentionOp(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, window: c.slidingWindow)
        self.attention = attention
        tiled = TiledAttention.supports(attention) ? TiledAttention(attention) : nil
        crossEntropy = ChunkedCrossEntropy(head: head, vocabChunk: Self.vocabChunk)
    }

    private var dims: (d: Int, q: Int, kv: Int, heads: Int, ffn: Int) {
        let c = model.config
        return (c.embeddingSize, c.headCount * c.headDim, c.kvHeadCount * c.headDim, c.headCount, c.feedForwardSize)
    }

    private func makeActivations(_ n: Int) -> LayerActivations {
        let s = dims
        return LayerActivations(tokens: n, d: s.d, qDim: s.q, kvDim: s.kv, heads: s.heads, ffn: s.ffn)
    }

    /// `y = base(x) (+ LoRA)` for module `m` of layer `l`.
    private func project(_ l: Int, _ m: LoRAModule, _ x: TrainingBuffer<Float>, _ n: Int, into y: TrainingBuffer<Float>,
                         scratch: TrainingBuffer<Float>) {
        TrainingProfile.time("frozen forward") { layers[l].projections[m]!.forward(x.pointer, tokens: n, into: y.pointer, pool: pool) }
        TrainingProfile.time("lora forward") {
            factors[l][m]?.forward(x.pointer, tokens: n, addingInto: y.pointer, scratch: scratch.pointer, pool: pool)
        }
    }

    /// `dx += ∂L/∂x` through module `m` of layer `l` (base and LoRA), accumulating the LoRA
    /// factors' gradients.
    private func projectBackward(_ l: Int, _ m: LoRAModule, dy: TrainingBuffer<Float>, x: TrainingBuffer<Float>, _ n: Int,
                                 into dx: TrainingBuffer<Float>, scratch: (TrainingBuffer<Float>, TrainingBuffer<Float>)) {
        TrainingProfile.time("frozen backward") {
            layers[l].projections[m]!.accumulateInputGradient(dy.pointer, tokens: n, into: dx.pointer, pool: pool)
        }
        TrainingProfile.time("lora backward") {
            factors[l][m]?.backward(dy.pointer, x: x.pointer, tokens: n, addingInto: dx.pointer,
                                    scratch: scratch.0.pointer, scratch.1.pointer, pool: pool)
        }
    }

    /// Layer `l`'s forward pass on `a.input`, filling `a`; the layer's output goes to `out`.
    private func forwardLayer(_ l: Int, _ a: LayerActivations, _ n: Int, rope: RoPEOp<Float>, out: TrainingBuffer<Float>,
                              scratch: TrainingBuffer<Float>) {
        let s = dims, c = model.config, L = layers[l]
        RMSNormOp.forward(a.input.pointer, weight: L.norm1.pointer, rows: n, dim: s.d, eps: c.rmsEpsilon,
                          into: a.normed1.pointer, inverseRMS: a.rms1.pointer)
        project(l, .q, a.normed1, n, into: a.q, scratch: scratch)
        project(l, .k, a.normed1, n, into: a.k, scratch: scratch)
        project(l, .v, a.normed1, n, into: a.v, scratch: scratch)
        rope.apply(a.q.pointer, rows: n, heads: c.headCount, headDim: c.headDim)
        rope.apply(a.k.pointer, rows: n, heads: c.kvHeadCount, headDim: c.headDim)
        TrainingProfile.time("attention forward") {
            if let tiled {
                tiled.forward(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, n: n, out: a.attended.pointer, lse: a.lse.pointer, pool: pool)
            } else {
                attention.forward(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, n: n, out: a.attended.pointer, lse: a.lse.pointer, pool: pool)
            }
        }
        project(l, .o, a.attended, n, into: out, scratch: scratch)
        for i in 0..<n * s.d { a.mid[i] = a.input[i] + out[i] }
        RMSNormOp.forward(a.mid.pointer, weight: L.norm2.pointer, rows: n, dim: s.d, eps: c.rmsEpsilon,
                          into: a.normed2.pointer, inverseRMS: a.rms2.pointer)
        project(l, .gate, a.normed2, n, into: a.gate, scratch: scratch)
        project(l, .up, a.normed2, n, into: a.up, scratch: scratch)
        SwiGLUOp.forward(gate: a.gate.pointer, up: a.up.pointer, count: n * s.ffn, into: a.act.pointer)
        project(l, .down, a.act, n, into: out, scratch: scratch)
        for i in 0..<n * s.d { out[i] += a.mid[i] }
    }

    /// Layer `l`'s backward pass: `dOut` (∂L/∂output) in, ∂L/∂input written to `dIn`.
    private func backwardLayer(_ l: Int, _ a: LayerActivations, _ n: Int, rope: RoPEOp<Float>, dOut: TrainingBuffer<Float>,
                               dIn: TrainingBuffer<Float>, scratch: (TrainingBuffer<Float>, TrainingBuffer<Float>)) {
        let s = dims, c = model.config, L = layers[l]
        // Feed-forward block: out = mid + down(silu(gate(n2))·up(n2)).
        let dAct = TrainingBuffer<Float>(zeros: n * s.ffn)
        projectBackward(l, .down, dy: dOut, x: a.act, n, into: dAct, scratch: scratch)
        let dGate = TrainingBuffer<Float>(zeros: n * s.ffn), dUp = TrainingBuffer<Float>(zeros: n * s.ffn)
        SwiGLUOp.backward(dAct.pointer, gate: a.gate.pointer, up: a.up.pointer, count: n * s.ffn, dGate: dGate.pointer, dUp: dUp.pointer)
        let dNormed = TrainingBuffer<Float>(zeros: n * s.d)
        projectBackward(l, .gate, dy: dGate, x: a.normed2, n, into: dNormed, scratch: scratch)
        projectBackward(l, .up, dy: dUp, x: a.normed2, n, into: dNormed, scratch: scratch)
        let dMid = TrainingBuffer<Float>(zeros: n * s.d)
        dMid.pointer.update(from: dOut.pointer, count: n * s.d)
        RMSNormOp.backward(dNormed.pointer, x: a.mid.pointer, weight: L.norm2.pointer, inverseRMS: a.rms2.pointer,
                           rows: n, dim: s.d, addingInto: dMid.pointer)
        // Attention block: mid = input + o(attention(rope(q(n1)), rope(k(n1)), v(n1))).
        let dAttended = TrainingBuffer<Float>(zeros: n * s.q)
        projectBackward(l, .o, dy: dMid, x: a.attended, n, into: dAttended, scratch: scratch)
        let dq = TrainingBuffer<Float>(zeros: n * s.q), dk = TrainingBuffer<Float>(zeros: n * s.kv), dv = TrainingBuffer<Float>(zeros: n * s.kv)
        TrainingProfile.time("attention backward") {
            if let tiled {
                tiled.backward(dOut: dAttended.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, out: a.attended.pointer,
                               lse: a.lse.pointer, n: n, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, pool: pool)
            } else {
                attention.backward(dOut: dAttended.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, out: a.attended.pointer,
                                   lse: a.lse.pointer, n: n, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, pool: pool)
            }
        }
        rope.apply(dq.pointer, rows: n, heads: c.headCount, headDim: c.headDim, inverse: true)
        rope.apply(dk.pointer, rows: n, heads: c.kvHeadCount, headDim: c.headDim, inverse: true)
        dNormed.zero()
        projectBackward(l, .q, dy: dq, x: a.normed1, n, into: dNormed, scratch: scratch)
        projectBackward(l, .k, dy: dk, x: a.normed1, n, into: dNormed, scratch: scratch)
        projectBackward(l, .v, dy: dv, x: a.normed1, n, into: dNormed, scratch: scratch)
        dIn.pointer.update(from: dMid.pointer, count: n * s.d)
        RMSNormOp.backward(dNormed.pointer, x: a.input.pointer, weight: L.norm1.pointer, inverseRMS: a.rms1.pointer,
                           rows: n, dim: s.d, addingInto: dIn.pointer)
    }

    /// Runs one sequence forward and backward: returns the summed cross-entropy of its
    /// non-ignored shifted labels and adds `gradScale ×` their gradients to ``factors``.
    /// `gradScale` is 1/(non-ignored labels in the whole batch) for the batch mean.
    /// Tokens and labels must be valid (``LoRATrainer`` checks them).
    public func lossAndGradients(tokens: [Int32], labels: [Int32], gradScale: Float) -> Double {
        let c = model.config, s = dims, n = tokens.count
        let rank = factors.lazy.flatMap(\.values).map(\.rank).max() ?? 1
        let scratch = (TrainingBuffer<Float>(zeros: n * rank), TrainingBuffer<Float>(zeros: n * rank))
        let rope = RoPEOp<Float>(model.rope, positions: Array(0..<n))
        // Forward: embeddings, then every layer, keeping its activations (or only its input).
        var hidden = TrainingBuffer<Float>(zeros: n * s.d)
        for (t, token) in tokens.enumerated() {
            model.weights.tokenEmbedding.dequantizeRow(Int(token), into: hidden.pointer + t * s.d)
        }
        var saved: [LayerActivations] = []
        var inputs: [TrainingBuffer<Float>] = []
        let shared = checkpointing ? makeActivations(n) : nil
        for l in 0..<c.layerCount {
            let a = shared ?? makeActivations(n)
            a.input.pointer.update(from: hidden.pointer, count: n * s.d)
            let out = TrainingBuffer<Float>(zeros: n * s.d)
            forwardLayer(l, a, n, rope: rope, out: out, scratch: scratch.0)
            if checkpointing { inputs.append(hidden) } else { saved.append(a) }
            hidden = out
        }
        lastActivationBytes = checkpointing
            ? inputs.count * n * s.d * 4 + (shared?.bytes ?? 0)
            : saved.reduce(0) { $0 + $1.bytes }
        // Final norm and the LM head with the loss, `logitRows` rows at a time.
        let normed = TrainingBuffer<Float>(zeros: n * s.d), rms = TrainingBuffer<Float>(zeros: n)
        RMSNormOp.forward(hidden.pointer, weight: finalNorm.pointer, rows: n, dim: s.d, eps: c.rmsEpsilon,
                          into: normed.pointer, inverseRMS: rms.pointer)
        let targets = CrossEntropyOp.shiftedTargets(labels)
        let dNormed = TrainingBuffer<Float>(zeros: n * s.d)
        var loss = 0.0
        var r0 = 0
        while r0 < n {
            let rows = min(Self.logitRows, n - r0)
            if targets[r0..<r0 + rows].contains(where: { $0 != CrossEntropyOp.ignoreIndex }) {
                loss += TrainingProfile.time("LM head and loss") {
                    targets.withUnsafeBufferPointer {
                        crossEntropy.lossAndInputGradient(normed.pointer + r0 * s.d, targets: $0.baseAddress! + r0, rows: rows,
                                                          addingInto: dNormed.pointer + r0 * s.d, gradScale: gradScale, pool: pool)
                    }
                }
            }
            r0 += rows
        }
        var dHidden = TrainingBuffer<Float>(zeros: n * s.d)
        RMSNormOp.backward(dNormed.pointer, x: hidden.pointer, weight: finalNorm.pointer, inverseRMS: rms.pointer,
                           rows: n, dim: s.d, addingInto: dHidden.pointer)
        // Backward through the layers, last first (recomputing each one when checkpointing).
        // Below the lowest adapted layer nothing is trained: the backward pass stops there.
        let lowest = factors.firstIndex { !$0.isEmpty } ?? c.layerCount
        for l in stride(from: c.layerCount - 1, through: lowest, by: -1) {
            let a: LayerActivations
            if let shared {
                shared.input.pointer.update(from: inputs[l].pointer, count: n * s.d)
                forwardLayer(l, shared, n, rope: rope, out: TrainingBuffer(zeros: n * s.d), scratch: scratch.0)
                a = shared
            } else {
                a = saved[l]
            }
            let dIn = TrainingBuffer<Float>(zeros: n * s.d)
            backwardLayer(l, a, n, rope: rope, dOut: dHidden, dIn: dIn, scratch: scratch)
            dHidden = dIn
        }
        return loss
    }
}
