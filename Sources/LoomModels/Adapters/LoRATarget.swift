import LoomFormats

/// Where a LoRA module, named by its GGUF base tensor, lands in ``DecoderWeights``: one
/// projection, or row slices of several when the architecture fuses them (Phi-3's
/// `attn_qkv` → q, k, v; its `ffn_up` → gate, up).
struct LoRATarget {
    enum Slot {
        case query, key, value, attentionOutput, gate, up, down
    }

    /// nil for the LM head.
    let layer: Int?
    let slot: Slot?
    /// Rows of the adapter's B that feed this projection.
    let rows: Range<Int>

    func projection(in w: DecoderWeights) -> Projection {
        guard let layer, let slot else { return w.output }
        let l = w.layers[layer]
        switch slot {
        case .query: return l.query
        case .key: return l.key
        case .value: return l.value
        case .attentionOutput: return l.attentionOutput
        case .gate: return l.gate
        case .up: return l.up
        case .down: return l.down
        }
    }

    func modify(_ w: inout DecoderWeights, _ body: (inout Projection) -> Void) {
        guard let layer, let slot else { return body(&w.output) }
        switch slot {
        case .query: body(&w.layers[layer].query)
        case .key: body(&w.layers[layer].key)
        case .value: body(&w.layers[layer].value)
        case .attentionOutput: body(&w.layers[layer].attentionOutput)
        case .gate: body(&w.layers[layer].gate)
        case .up: body(&w.layers[layer].up)
        case .down: body(&w.layers[layer].down)
        }
    }

    static func forEachProjection(_ w: inout DecoderWeights, _ body: (inout Projection) -> Void) {
        body(&w.output)
        for i in w.layers.indices {
            body(&w.layers[i].query); body(&w.layers[i].key); body(&w.layers[i].value)
            body(&w.layers[i].attentionOutput)
            body(&w.layers[i].gate); body(&w.layers[i].up); body(&w.layers[i].down)
        }
    }

    /// The projections (and their B rows) GGUF tensor `name` adapts in `model`.
    static func resolve(_ name: String, in model: LanguageModel, adapterPath: String) throws -> [LoRATarget] {
        let c = model.config
        if name == "output.weight" { return [LoRATarget(layer: nil, slot: nil, rows: 0..<c.vocabularySize)] }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]) else {
            throw ModelError.missingTensor(name: "\(name) (adapted by \(adapterPath); the model has no such projection)", path: model.path)
        }
        guard (0..<c.layerCount).contains(layer) else {
            throw ModelError.missingTensor(name: "\(name) (adapted by \(adapterPath); the model has \(c.layerCount) layers)", path: model.path)
        }
        let q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim, ffn = c.feedForwardSize
        func one(_ slot: Slot, _ rows: Int) -> [LoRATarget] { [LoRATarget(layer: layer, slot: slot, rows: 0..<rows)] }
        switch (parts[2], c.architecture.fusedQKV, c.architecture.fusedGateUp) {
        case ("attn_q.weight", false, _): return one(.query, q)
        case ("attn_k.weight", false, _): return one(.key, kv)
        case ("attn_v.weight", false, _): return one(.value, kv)
        case ("attn_qkv.weight", true, _):
            return [LoRATarget(layer: layer, slot: .query, rows: 0..<q), LoRATarget(layer: layer, slot: .key, rows: q..<q + kv),
                    LoRATarget(layer: layer, slot: .value, rows: q + kv..<q + 2 * kv)]
        case ("attn_output.weight", _, _): return one(.attentionOutput, c.embeddingSize)
        case ("ffn_gate.weight", _, false): return one(.gate, ffn)
        case ("ffn_up.weight", _, false): return one(.up, ffn)
        case ("ffn_up.weight", _, true):
            return [LoRATarget(layer: layer, slot: .gate, rows: 0..<ffn), LoRATarget(layer: layer, slot: .up, rows: ffn..<2 * ffn)]
        case ("ffn_down.weight", _, _): return one(.down, c.embeddingSize)
        default:
            throw ModelError.missingTensor(name: "\(name) (adapted by \(adapterPath); the model has no such projection)", path: model.path)
        }
    }
}
