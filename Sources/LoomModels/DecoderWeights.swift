import LoomFormats
import LoomKernels

/// The tensors of a decoder (any ``Architecture``), bound in place to the memory-mapped GGUF file.
///
/// Matrices stay in their stored block format; only the small norm and bias vectors are
/// copied out as floats. Every tensor's shape is checked against the config at load, so a
/// mismatched file fails here with the tensor's name instead of misbehaving later.
public struct DecoderWeights: @unchecked Sendable {
    /// One transformer block. Shapes are `[rows × columns]` of the stored matrices.
    public struct Layer: @unchecked Sendable {
        public internal(set) var attentionNorm: [Float]    // [d]; a LoRA adapter's modules_to_save may replace it
        public var query: Projection               // [qDim × d] (+ bias [qDim])
        public var key: Projection                 // [kvDim × d] (+ bias [kvDim])
        public var value: Projection               // [kvDim × d] (+ bias [kvDim])
        public var attentionOutput: Projection     // [d × qDim]
        public internal(set) var feedForwardNorm: [Float]  // [d]
        public var gate: Projection                // [ffn × d]
        public var up: Projection                  // [ffn × d]
        public var down: Projection                // [d × ffn]
        /// RMSNorm weights on the attention output before `attentionOutput` ([qDim]) and on the
        /// gated product before `down` ([ffn]), for architectures with sub-layer norms (BitNet).
        public var attentionSubNorm: [Float]? = nil
        public var feedForwardSubNorm: [Float]? = nil

        /// The seven projections, in the order q, k, v, o, gate, up, down.
        public var projections: [Projection] { [query, key, value, attentionOutput, gate, up, down] }
    }

    public let tokenEmbedding: WeightMatrix        // [vocab × d]
    public var layers: [Layer]
    public internal(set) var outputNorm: [Float]   // [d]
    /// The LM head `[vocab × d]`; the token embedding itself when the model ties them.
    public var output: Projection
    public let tiedOutput: Bool
    /// Per-pair RoPE divisors (`rope_freqs.weight`, llama3-style scaling), if present.
    public let ropeFrequencyFactors: [Float]?
    /// Phi-3 LongRoPE per-pair divisors (llama.cpp `rope_factors_long` / `rope_factors_short`),
    /// both or neither.
    public let ropeLongRopeFactors: (long: [Float], short: [Float])?

    public init(file: GGUFFile, config c: ModelConfig) throws {
        try self.init(binder: TensorBinder(gguf: file), config: c)
    }

    /// Binds the tensors `binder` finds under their GGUF names.
    init(binder loader: TensorBinder, config c: ModelConfig, ropeFrequencyFactors factors: [Float]? = nil) throws {
        let file = loader
        let qDim = c.headCount * c.headDim
        let kvDim = c.kvHeadCount * c.headDim
        tokenEmbedding = try loader.matrix("token_embd.weight", columns: c.embeddingSize, rows: c.vocabularySize)
        outputNorm = try loader.vector("output_norm.weight", count: c.embeddingSize)
        if file.has("output.weight") {
            output = Projection(weight: try loader.matrix("output.weight", columns: c.embeddingSize, rows: c.vocabularySize))
            tiedOutput = false
        } else if !c.tiedOutput {
            throw ModelError.missingTensor(name: "output.weight (lm_head.weight; the config says tie_word_embeddings: false)", path: loader.path)
        } else {
            output = Projection(weight: tokenEmbedding)
            tiedOutput = true
        }
        ropeFrequencyFactors = try factors ?? (file.has("rope_freqs.weight")
            ? loader.vector("rope_freqs.weight", count: c.ropeDimensions / 2) : nil)
        let arch = c.architecture
        // Phi-3's LongRoPE stores per-pair factors as tensors (llama.cpp convert_hf_to_gguf.py
        // Phi3MiniModel: `rope_factors_long`, `rope_factors_short`).
        switch (file.has("rope_factors_long.weight"), file.has("rope_factors_short.weight")) {
        case (true, true):
            ropeLongRopeFactors = (try loader.vector("rope_factors_long.weight", count: c.ropeDimensions / 2),
                                   try loader.vector("rope_factors_short.weight", count: c.ropeDimensions / 2))
        case (false, false):
            ropeLongRopeFactors = nil
        case (let hasLong, _):
            throw ModelError.missingTensor(name: hasLong ? "rope_factors_short.weight (LongRoPE needs both factor tensors)"
                                                         : "rope_factors_long.weight (LongRoPE needs both factor tensors)", path: loader.path)
        }
        // The layer count comes from the file: check its last layer exists before `map`
        // reserves room for all of them (2^27 layers would be a multi-GB allocation abort).
        let lastNorm = "blk.\(c.layerCount - 1).attn_norm.weight"
        guard file.has(lastNorm) else {
            throw ModelError.missingTensor(name: "\(lastNorm) (the config says \(c.layerCount) layers)", path: loader.path)
        }
        layers = try (0..<c.layerCount).map { i in
            let p = "blk.\(i)."
            func bias(_ name: String, _ count: Int) throws -> FloatVector? {
                switch arch.qkvBias {
                case .always: return FloatVector(try loader.vector(p + name, count: count))
                case .configured where file.has(p + name): return FloatVector(try loader.vector(p + name, count: count))
                case .none where file.has(p + name):
                    throw ModelError.tensorType(name: p + name, type: "bias", reason: "\(arch) has no q/k/v biases", path: loader.path)
                default: return nil
                }
            }
            func matrix(_ name: String, columns: Int, rows: Int, bias biasName: String? = nil) throws -> Projection {
                try loader.projection(p + name, columns: columns, rows: rows, bias: try biasName.flatMap { try bias($0, rows) })
            }
            // The forward pass has no output-projection or MLP bias; refuse rather than ignore one.
            for name in ["attn_output.bias", "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"] where file.has(p + name) {
                throw ModelError.tensorType(name: p + name, type: "bias", reason: "this bias is not supported", path: loader.path)
            }
            // llama.cpp's bitnet graph multiplies a product by an optional `<name>.scale` (bitnet.cpp
            // files); its own converter folds the scale into the weights instead.
            // Loom's packed ternary projections (I8 codes) own their `.scale` (TernaryGGUFLayout).
            for name in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
            where file.has(p + name + ".scale") && ((try? file.lookup(p + name + ".weight")) ?? nil)?.type.holdsIntegers != true {
                throw ModelError.tensorType(name: p + name + ".scale", type: "scale", reason: "per-tensor output scales are not supported (fold them into the weights)", path: loader.path)
            }
            let query, key, value, gate, up: Projection
            if arch.fusedQKV {
                // [qDim + 2·kvDim, d]: Q rows, then K, then V (HF Phi3Attention's qkv_proj split).
                let qkv = try loader.matrix(p + "attn_qkv.weight", columns: c.embeddingSize, rows: qDim + 2 * kvDim)
                query = Projection(weight: qkv.rows(0..<qDim))
                key = Projection(weight: qkv.rows(qDim..<qDim + kvDim))
                value = Projection(weight: qkv.rows(qDim + kvDim..<qDim + 2 * kvDim))
            } else {
                query = try matrix("attn_q.weight", columns: c.embeddingSize, rows: qDim, bias: "attn_q.bias")
                key = try matrix("attn_k.weight", columns: c.embeddingSize, rows: kvDim, bias: "attn_k.bias")
                value = try matrix("attn_v.weight", columns: c.embeddingSize, rows: kvDim, bias: "attn_v.bias")
            }
            if arch.fusedGateUp {
                // [2·ffn, d]: gate rows, then up (`gate, up = gate_up_proj(x).chunk(2, dim=-1)`).
                let fused = try loader.matrix(p + "ffn_up.weight", columns: c.embeddingSize, rows: 2 * c.feedForwardSize)
                gate = Projection(weight: fused.rows(0..<c.feedForwardSize))
                up = Projection(weight: fused.rows(c.feedForwardSize..<2 * c.feedForwardSize))
            } else {
                gate = try matrix("ffn_gate.weight", columns: c.embeddingSize, rows: c.feedForwardSize)
                up = try matrix("ffn_up.weight", columns: c.embeddingSize, rows: c.feedForwardSize)
            }
            return Layer(
                attentionNorm: try loader.vector(p + "attn_norm.weight", count: c.embeddingSize),
                query: query, key: key, value: value,
                attentionOutput: try matrix("attn_output.weight", columns: qDim, rows: c.embeddingSize),
                feedForwardNorm: try loader.vector(p + "ffn_norm.weight", count: c.embeddingSize),
                gate: gate, up: up,
                down: try matrix("ffn_down.weight", columns: c.feedForwardSize, rows: c.embeddingSize),
                attentionSubNorm: arch.subLayerNorms ? try loader.vector(p + "attn_sub_norm.weight", count: qDim) : nil,
                feedForwardSubNorm: arch.subLayerNorms ? try loader.vector(p + "ffn_sub_norm.weight", count: c.feedForwardSize) : nil)
        }
    }

    /// Bytes of weights read to generate one token (every matrix once, plus one embedding row).
    public var bytesPerToken: Int {
        var total = output.weightBytes + tokenEmbedding.rowBytes
        for l in layers {
            for p in l.projections {
                total += p.weightBytes
            }
        }
        return total
    }
}

extension DecoderWeights {
    /// The RMSNorm weight with GGUF name `name` (`blk.N.attn_norm.weight`,
    /// `blk.N.ffn_norm.weight`, `output_norm.weight`), or nil if there is none.
    func norm(named name: String) -> [Float]? {
        if name == "output_norm.weight" { return outputNorm }
        guard let (layer, isAttention) = layerNorm(name) else { return nil }
        return isAttention ? layers[layer].attentionNorm : layers[layer].feedForwardNorm
    }

    /// Replaces the norm ``norm(named:)`` finds (callers check the name and size first).
    mutating func setNorm(named name: String, _ values: [Float]) {
        if name == "output_norm.weight" { outputNorm = values; return }
        guard let (layer, isAttention) = layerNorm(name) else { return }
        if isAttention { layers[layer].attentionNorm = values } else { layers[layer].feedForwardNorm = values }
    }

    /// `blk.N.attn_norm.weight` → (N, true), `blk.N.ffn_norm.weight` → (N, false), for a
    /// layer N this model has.
    private func layerNorm(_ name: String) -> (Int, Bool)? {
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layers.indices.contains(layer), parts[3] == "weight" else {
            return nil
        }
        switch parts[2] {
        case "attn_norm": return (layer, true)
        case "ffn_norm": return (layer, false)
        default: return nil
        }
    }
}
