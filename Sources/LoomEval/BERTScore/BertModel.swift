import Foundation
import LoomFormats
import LoomKernels

/// A BERT encoder (Hugging Face `BertModel`) read from safetensors, computing the hidden
/// states of one sentence in F32.
///
/// Embeddings are word + absolute position + token type 0, then LayerNorm; each encoder layer
/// is biased Q/K/V projections, unmasked scaled-dot-product attention over all heads, the
/// output projection, residual and LayerNorm, then a GELU (exact, erf) feed-forward layer with
/// its own residual and LayerNorm. The products run through ``MatMul`` on F32 weight rows that
/// stay in the memory-mapped file.
///
/// ```swift
/// let bert = try BertModel(path: ModelStore().resolve("minilm"))
/// let hidden = bert.hiddenStates(ids: [101, 7592, 102], layers: 4)   // 3 × 384 floats
/// ```
public final class BertModel: @unchecked Sendable {
    public let config: BertConfig
    /// Where the weights, config and vocabulary were found.
    public let files: BertCheckpointFiles
    let weights: BertWeights
    let pool: ThreadPool

    /// Loads a checkpoint: a directory with `model.safetensors` and `config.json`, or a
    /// `.safetensors` file with its config beside it (see ``BertCheckpointFiles``).
    public convenience init(path: String, pool: ThreadPool = ThreadPool()) throws {
        let files = try BertCheckpointFiles(path: path)
        try self.init(files: files, config: try BertConfig(path: files.config), pool: pool)
    }

    public init(files: BertCheckpointFiles, config: BertConfig, pool: ThreadPool = ThreadPool()) throws {
        self.files = files
        self.config = config
        self.pool = pool
        weights = try BertWeights(file: try SafetensorsFile(path: files.weights), config: config)
    }

    /// The hidden states after `layers` encoder layers (0 = the embedding output; nil = all),
    /// row-major `[ids.count × hiddenSize]`. `ids` must be valid token ids, at most
    /// `maxPositions` of them.
    public func hiddenStates(ids: [Int], layers: Int? = nil) throws -> [Float] {
        let layerCount = layers ?? config.layerCount
        guard layerCount >= 0, layerCount <= config.layerCount else {
            throw EvalError.invalidParameter("BERT layer \(layerCount) is outside 0…\(config.layerCount)")
        }
        guard ids.count <= config.maxPositions else {
            throw EvalError.invalidParameter("\(ids.count) tokens exceed BERT's \(config.maxPositions) positions")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw EvalError.invalidParameter("token id \(bad) is outside BERT's vocabulary of \(config.vocabSize)")
        }
        let n = ids.count, h = config.hiddenSize
        var hidden = [Float](repeating: 0, count: n * h)
        guard n > 0 else { return hidden }
        hidden.withUnsafeMutableBufferPointer { x in
            embed(ids, into: x.baseAddress!)
            let scratch = Scratch(tokens: n, config: config)
            defer { scratch.deallocate() }
            for layer in weights.layers.prefix(layerCount) {
                forward(layer, x.baseAddress!, tokens: n, scratch)
            }
        }
        return hidden
    }

    // MARK: - Forward pieces

    /// Per-call work buffers (a few hundred KB for 512 tokens).
    private struct Scratch {
        let q, k, v, context, attention, intermediate: UnsafeMutablePointer<Float>
        init(tokens n: Int, config: BertConfig) {
            let h = config.hiddenSize
            q = .allocate(capacity: n * h); k = .allocate(capacity: n * h); v = .allocate(capacity: n * h)
            context = .allocate(capacity: n * h); attention = .allocate(capacity: n * h)
            intermediate = .allocate(capacity: n * config.intermediateSize)
        }
        func deallocate() {
            for p in [q, k, v, context, attention, intermediate] { p.deallocate() }
        }
    }

    private func embed(_ ids: [Int], into x: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        for (t, id) in ids.enumerated() {
            let row = x + t * h
            let word = weights.wordEmbeddings + id * h
            let position = weights.positionEmbeddings + t * h
            for i in 0..<h { row[i] = word[i] + position[i] + weights.tokenTypeEmbeddings[i] }
            layerNorm(row, weights.embeddingNorm)
        }
    }

    private func forward(_ w: BertWeights.Layer, _ x: UnsafeMutablePointer<Float>, tokens n: Int, _ s: Scratch) {
        let h = config.hiddenSize, ff = config.intermediateSize
        MatMul.multiply(MatMulTarget(w.query, s.q, bias: w.queryBias), MatMulTarget(w.key, s.k, bias: w.keyBias),
                        MatMulTarget(w.value, s.v, bias: w.valueBias), x, tokens: n, pool: pool)
        attend(s, tokens: n)
        MatMul.multiply(MatMulTarget(w.output, s.attention, bias: w.outputBias), nil, nil, s.context, tokens: n, pool: pool)
        for t in 0..<n {
            let row = x + t * h
            VectorOps.add(s.attention + t * h, into: row, count: h)
            layerNorm(row, w.attentionNorm)
        }
        MatMul.multiply(MatMulTarget(w.intermediate, s.intermediate, bias: w.intermediateBias), nil, nil, x, tokens: n, pool: pool)
        let inter = s.intermediate
        pool.parallelFor(count: n, chunk: 8) { range, _ in
            for i in (range.lowerBound * ff)..<(range.upperBound * ff) { inter[i] = Self.gelu(inter[i]) }
        }
        MatMul.multiply(MatMulTarget(w.down, s.attention, bias: w.downBias), nil, nil, s.intermediate, tokens: n, pool: pool)
        for t in 0..<n {
            let row = x + t * h
            VectorOps.add(s.attention + t * h, into: row, count: h)
            layerNorm(row, w.outputNorm)
        }
    }

    /// Bidirectional multi-head attention of `s.q/k/v` into `s.context` (no mask: one
    /// unpadded sentence).
    private func attend(_ s: Scratch, tokens n: Int) {
        let h = config.hiddenSize, heads = config.headCount, d = h / heads
        let scale = 1 / Float(d).squareRoot()
        let pool = self.pool
        pool.parallelFor(count: heads * n, chunk: max(1, n / 4)) { range, worker in
            let scores = pool.scratch(worker: worker, count: n)
            for job in range {
                let head = job / n, i = job % n
                let q = s.q + i * h + head * d
                for j in 0..<n {
                    let k = s.k + j * h + head * d
                    var dot: Float = 0
                    for c in 0..<d { dot += q[c] * k[c] }
                    scores[j] = dot * scale
                }
                VectorOps.softmax(scores, count: n)
                let out = s.context + i * h + head * d
                for c in 0..<d { out[c] = 0 }
                for j in 0..<n {
                    VectorOps.axpy(scores[j], s.v + j * h + head * d, out, count: d)
                }
            }
        }
    }

    /// `(x − mean) / sqrt(var + eps) · weight + bias`, biased variance, in place.
    private func layerNorm(_ x: UnsafeMutablePointer<Float>, _ p: (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)) {
        let h = config.hiddenSize
        var sum = 0.0
        for i in 0..<h { sum += Double(x[i]) }
        let mean = sum / Double(h)
        var squares = 0.0
        for i in 0..<h { let c = Double(x[i]) - mean; squares += c * c }
        let inv = 1 / (squares / Double(h) + Double(config.layerNormEpsilon)).squareRoot()
        for i in 0..<h { x[i] = Float((Double(x[i]) - mean) * inv) * p.weight[i] + p.bias[i] }
    }

    /// GELU with the exact error function (`hidden_act = "gelu"`).
    @inline(__always) static func gelu(_ x: Float) -> Float {
        Float(0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot())))
    }
}

/// The files of a BERT checkpoint, found from one path.
///
/// - a directory: `model.safetensors`, `config.json`, and `tokenizer.json` or `vocab.txt`;
/// - a `NAME.safetensors` file: `NAME.config.json` / `NAME.tokenizer.json` beside it (the
///   ModelStore's `minilm` layout), else `config.json` / `tokenizer.json` / `vocab.txt` in the
///   same directory.
public struct BertCheckpointFiles: Sendable, Equatable {
    public var weights: String
    public var config: String
    /// `tokenizer.json` or `vocab.txt`.
    public var vocabulary: String

    public init(weights: String, config: String, vocabulary: String) {
        self.weights = weights
        self.config = config
        self.vocabulary = vocabulary
    }

    public init(path: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EvalError.invalidParameter("BERT model \(path) does not exist")
        }
        let directory: String
        var candidates: (config: [String], vocabulary: [String])
        if isDirectory.boolValue {
            directory = path
            weights = (path as NSString).appendingPathComponent("model.safetensors")
            candidates = ([], [])
        } else {
            guard path.hasSuffix(".safetensors") else {
                throw EvalError.invalidParameter("BERT model \(path) is neither a directory nor a .safetensors file")
            }
            directory = (path as NSString).deletingLastPathComponent
            weights = path
            let stem = String(path.dropLast(".safetensors".count))
            candidates = ([stem + ".config.json"], [stem + ".tokenizer.json", stem + ".vocab.txt"])
        }
        func inDirectory(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        candidates.config.append(inDirectory("config.json"))
        candidates.vocabulary += [inDirectory("tokenizer.json"), inDirectory("vocab.txt")]
        guard fm.fileExists(atPath: weights) else { throw EvalError.invalidParameter("BERT weights \(weights) not found") }
        guard let config = candidates.config.first(where: { fm.fileExists(atPath: $0) }) else {
            throw EvalError.invalidParameter("no BERT config for \(path): looked for \(candidates.config.joined(separator: ", "))")
        }
        guard let vocabulary = candidates.vocabulary.first(where: { fm.fileExists(atPath: $0) }) else {
            throw EvalError.invalidParameter("no WordPiece vocabulary for \(path): looked for \(candidates.vocabulary.joined(separator: ", "))")
        }
        self.config = config
        self.vocabulary = vocabulary
    }
}
