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
            output = try loader.matrix("output.weight", columns: c.embeddingSize, rows: c.vocabularySize)
            tiedOutput = false
        } else {
            output = tokenEmbedding
            tiedOutput = true
        }
        ropeFrequencyFactors = try factors ?? (file.has("rope_freqs.weight")
            ? loader.vector("rope_freqs.weight", count: c.ropeDimensions / 2) : nil)
        let biasesRequired = c.architecture == .qwen2
        layers = try (0..<c.layerCount).map { i in
            let p = "blk.\(i)."
            func bias(_ name: String, _ count: Int) throws -> [Float]? {
                if biasesRequired || file.has(p + name) {
                    return try loader.vector(p + name, count: count)
                }
                return nil
            }
            // The forward pass has no output-projection or MLP bias; refuse rather than ignore one.
            for name in ["attn_output.bias", "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"] where file.has(p + name) {
                throw ModelError.tensorType(name: p + name, type: "bias", reason: "this bias is not supported", path: loader.path)
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

/// Looks tensors up by their GGUF name, in a GGUF file or an HF checkpoint, and checks their
/// shape and type.
struct TensorBinder {
    /// A tensor as the binder needs it: type, ggml-order dimensions (columns first), bytes.
    struct Tensor {
        let type: GGMLType
        let dimensions: [Int]
        let base: UnsafeRawPointer
        var elementCount: Int { dimensions.reduce(1, *) }
    }

    let path: String
    let lookup: (String) throws -> Tensor?

    init(gguf file: GGUFFile) {
        path = file.path
        lookup = { name in
            file.tensor(named: name).map { Tensor(type: $0.type, dimensions: $0.dimensions, base: file.data(for: $0)) }
        }
    }

    /// HF safetensors tensors under their GGUF names; F32/F16/BF16 are used in place.
    init(checkpoint: SafetensorsCheckpoint, path: String) {
        self.path = path
        lookup = { name in
            guard let hfName = HFTensorNaming.hfName(forGGUF: name), let (file, info) = checkpoint.tensor(named: hfName) else {
                return nil
            }
            guard let type = info.dtype.ggmlType else {
                throw ModelError.tensorType(name: hfName, type: info.dtype.rawValue, reason: "only F32, F16 and BF16 weights can be used", path: path)
            }
            guard let base = file.data(info).baseAddress else {
                throw ModelError.tensorShape(name: hfName, expected: [], actual: info.shape, path: path)
            }
            return Tensor(type: type, dimensions: info.shape.reversed(), base: base)
        }
    }

    func has(_ name: String) -> Bool {
        ((try? lookup(name)) ?? nil) != nil
    }

    func info(_ name: String) throws -> Tensor {
        guard let t = try lookup(name) else {
            throw ModelError.missingTensor(name: name, path: path)
        }
        return t
    }

    func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
        let t = try info(name)
        guard t.dimensions == [columns, rows] else {
            throw ModelError.tensorShape(name: name, expected: [columns, rows], actual: t.dimensions, path: path)
        }
        return WeightMatrix(type: t.type, rows: rows, columns: columns, base: t.base)
    }

    /// A small vector (norm weight, bias, RoPE factors) dequantised to floats.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let t = try info(name)
        guard t.elementCount == count, t.dimensions.count == 1 else {
            throw ModelError.tensorShape(name: name, expected: [count], actual: t.dimensions, path: path)
        }
        guard count % t.type.blockSize == 0 else {
            throw ModelError.tensorType(name: name, type: "\(t.type)", reason: "a vector must be a float type", path: path)
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            RowKernels.dequantize(t.type, t.base, into: buffer.baseAddress!, count: count)
            initialized = count
        }
    }
}
