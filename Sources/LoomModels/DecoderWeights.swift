import LoomFormats
import LoomKernels

/// The tensors of a Llama/Qwen2 decoder, bound in place to the memory-mapped GGUF file.
///
/// Matrices stay in their stored block format; only the small norm and bias vectors are
/// copied out as floats. Every tensor's shape is checked against the config at load, so a
/// mismatched file fails here with the tensor's name instead of misbehaving later.
public struct DecoderWeights: @unchecked Sendable {
    /// One transformer block.
    public struct Layer: @unchecked Sendable {
        public let attentionNorm: [Float]
        public let query: WeightMatrix
        public let key: WeightMatrix
        public let value: WeightMatrix
        public let queryBias: [Float]?
        public let keyBias: [Float]?
        public let valueBias: [Float]?
        public let attentionOutput: WeightMatrix
        public let feedForwardNorm: [Float]
        public let gate: WeightMatrix
        public let up: WeightMatrix
        public let down: WeightMatrix
    }

    public let tokenEmbedding: WeightMatrix
    public let layers: [Layer]
    public let outputNorm: [Float]
    /// The LM head; the token embedding itself when the model ties them.
    public let output: WeightMatrix
    public let tiedOutput: Bool
    /// Per-pair RoPE divisors (`rope_freqs.weight`, llama3-style scaling), if present.
    public let ropeFrequencyFactors: [Float]?

    public init(file: GGUFFile, config c: ModelConfig) throws {
        let loader = TensorBinder(file: file)
        let qDim = c.headCount * c.headDim
        let kvDim = c.kvHeadCount * c.headDim
        tokenEmbedding = try loader.matrix("token_embd.weight", columns: c.embeddingSize, rows: c.vocabularySize)
        outputNorm = try loader.vector("output_norm.weight", count: c.embeddingSize)
        if file.tensor(named: "output.weight") != nil {
            output = try loader.matrix("output.weight", columns: c.embeddingSize, rows: c.vocabularySize)
            tiedOutput = false
        } else {
            output = tokenEmbedding
            tiedOutput = true
        }
        ropeFrequencyFactors = file.tensor(named: "rope_freqs.weight") != nil
            ? try loader.vector("rope_freqs.weight", count: c.ropeDimensions / 2) : nil
        let biasesRequired = c.architecture == .qwen2
        layers = try (0..<c.layerCount).map { i in
            let p = "blk.\(i)."
            func bias(_ name: String, _ count: Int) throws -> [Float]? {
                if biasesRequired || file.tensor(named: p + name) != nil {
                    return try loader.vector(p + name, count: count)
                }
                return nil
            }
            return Layer(
                attentionNorm: try loader.vector(p + "attn_norm.weight", count: c.embeddingSize),
                query: try loader.matrix(p + "attn_q.weight", columns: c.embeddingSize, rows: qDim),
                key: try loader.matrix(p + "attn_k.weight", columns: c.embeddingSize, rows: kvDim),
                value: try loader.matrix(p + "attn_v.weight", columns: c.embeddingSize, rows: kvDim),
                queryBias: try bias("attn_q.bias", qDim),
                keyBias: try bias("attn_k.bias", kvDim),
                valueBias: try bias("attn_v.bias", kvDim),
                attentionOutput: try loader.matrix(p + "attn_output.weight", columns: qDim, rows: c.embeddingSize),
                feedForwardNorm: try loader.vector(p + "ffn_norm.weight", count: c.embeddingSize),
                gate: try loader.matrix(p + "ffn_gate.weight", columns: c.embeddingSize, rows: c.feedForwardSize),
                up: try loader.matrix(p + "ffn_up.weight", columns: c.embeddingSize, rows: c.feedForwardSize),
                down: try loader.matrix(p + "ffn_down.weight", columns: c.feedForwardSize, rows: c.embeddingSize))
        }
    }

    /// Bytes of weights read to generate one token (every matrix once, plus one embedding row).
    public var bytesPerToken: Int {
        var total = output.rows * output.rowBytes + tokenEmbedding.rowBytes
        for l in layers {
            for m in [l.query, l.key, l.value, l.attentionOutput, l.gate, l.up, l.down] {
                total += m.rows * m.rowBytes
            }
        }
        return total
    }
}

/// Looks tensors up by name and checks their shape and type.
struct TensorBinder {
    let file: GGUFFile

    func info(_ name: String) throws -> GGUFTensorInfo {
        guard let t = file.tensor(named: name) else {
            throw ModelError.missingTensor(name: name, path: file.path)
        }
        return t
    }

    func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
        let t = try info(name)
        guard t.dimensions == [columns, rows] else {
            throw ModelError.tensorShape(name: name, expected: [columns, rows], actual: t.dimensions, path: file.path)
        }
        return WeightMatrix(type: t.type, rows: rows, columns: columns, base: file.data(for: t))
    }

    /// A small vector (norm weight, bias, RoPE factors) dequantised to floats.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        guard t.elementCount == count, t.dimensions.count == 1 else {
            throw ModelError.tensorShape(name: name, expected: [count], actual: t.dimensions, path: file.path)
        }
        guard count % t.type.blockSize == 0 else {
            throw ModelError.tensorType(name: name, type: "\(t.type)", reason: "a vector must be a float type", path: file.path)
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            RowKernels.dequantize(t.type, file.data(for: t), into: buffer.baseAddress!, count: count)
            initialized = count
        }
    }
}
