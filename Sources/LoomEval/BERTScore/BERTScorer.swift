import Foundation
import LoomKernels

/// BERTScore precision, recall and F1 of one candidate against one reference.
public struct BERTScore: Codable, Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double

    public init(precision: Double, recall: Double, f1: Double) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
    }
}

/// Baseline values for rescaling, `s' = (s − b) / (1 − b)` per component (bert_score's
/// `rescale_with_baseline`; its tables hold one row per layer of each model).
public struct BERTScoreBaseline: Codable, Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double

    public init(precision: Double, recall: Double, f1: Double) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
    }

    /// Each component rescaled on its own (F1 is not recomputed from the rescaled P and R).
    public func rescale(_ s: BERTScore) -> BERTScore {
        BERTScore(precision: (s.precision - precision) / (1 - precision),
                  recall: (s.recall - recall) / (1 - recall),
                  f1: (s.f1 - f1) / (1 - f1))
    }
}

/// Inverse document frequencies of WordPiece ids over a reference set, as bert_score's
/// `get_idf_dict`: `idf(w) = ln((M + 1) / (df(w) + 1))` with M references and df(w) the number
/// of references containing w; unseen ids get `ln(M + 1)`. `[CLS]` and `[SEP]` occur in every
/// reference, so their weight is ln(1) = 0.
public struct IDFWeights: Sendable, Equatable {
    public let documentCount: Int
    public let documentFrequency: [Int: Int]

    /// Counts `references`, each already encoded (with `[CLS]`/`[SEP]`).
    public init(encodedReferences: [[Int]]) {
        documentCount = encodedReferences.count
        var df: [Int: Int] = [:]
        for ids in encodedReferences {
            for id in Set(ids) { df[id, default: 0] += 1 }
        }
        documentFrequency = df
    }

    public func weight(_ id: Int) -> Double {
        log(Double(documentCount + 1) / Double((documentFrequency[id] ?? 0) + 1))
    }
}

/// A sentence encoded for BERTScore: its ids and L2-normalised token embeddings.
public struct BERTEmbedding: Sendable {
    public let ids: [Int]
    /// Row-major `[ids.count × dimension]`, each row of unit length.
    public let vectors: [Float]
    public let dimension: Int
}

/// BERTScore (Zhang et al. 2020) exactly as the `bert_score` package computes it, on Loom's
/// own BERT encoder (Tiiiger/bert_score `bert_score/utils.py`, `bert_score/score.py`).
///
/// Each sentence is encoded as `[CLS] pieces… [SEP]` (bert_score's `sent_encode`, truncated to
/// 512), run through the first `layer` encoder layers, and every token vector is L2-normalised.
/// For a candidate c and reference r with cosine matrix S: precision weights each candidate
/// token's best match `max_j S[i][j]`, recall each reference token's `max_i S[i][j]`; `[CLS]`
/// and `[SEP]` take part in the maxima but have weight 0. Weights are 1 per token, or idf
/// from the reference set (``IDFWeights``), normalised to sum 1 per sentence. F1 = 2PR/(P+R)
/// (NaN → 0); an empty candidate or reference scores 0. An optional baseline rescales P, R
/// and F1 afterwards.
///
/// Batches are reproduced too: bert_score pads the candidates and the references of each
/// batch of `batchSize` (64) consecutive pairs to the batch's longest sentence and multiplies
/// padded similarities by 0, so the maxima of a pair whose partner is shorter than the longest
/// in its batch are clamped at 0 (visible when every real similarity of a token is negative,
/// which happens in the upper layers). ``score(candidates:references:idf:batchSize:)`` does
/// the same; ``score(candidate:reference:idf:)`` scores one pair as a batch of one.
///
/// ```swift
/// let scorer = try BERTScorer(path: ModelStore().resolve("minilm"), layer: 6)
/// let s = try scorer.score(candidates: ["A ledger shared by nodes."], references: ["A blockchain is a shared ledger."])
/// print(s[0].f1)
/// ```
public final class BERTScorer: @unchecked Sendable {
    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    /// Hidden state used: after this many encoder layers.
    public let layer: Int
    /// Applied to every score when set.
    public let baseline: BERTScoreBaseline?
    private var cache: [String: BERTEmbedding] = [:]
    private let lock = NSLock()

    /// Loads the encoder and its vocabulary (see ``BertCheckpointFiles``); `layer` nil means
    /// the last layer.
    public convenience init(path: String, layer: Int? = nil, baseline: BERTScoreBaseline? = nil, pool: ThreadPool = ThreadPool()) throws {
        let model = try BertModel(path: path, pool: pool)
        let tokenizer = try WordPieceTokenizer(for: model, maxLength: model.config.maxPositions)
        try self.init(model: model, tokenizer: tokenizer, layer: layer, baseline: baseline)
    }

    public init(model: BertModel, tokenizer: WordPieceTokenizer, layer: Int? = nil, baseline: BERTScoreBaseline? = nil) throws {
        let layer = layer ?? model.config.layerCount
        guard layer >= 0, layer <= model.config.layerCount else {
            throw EvalError.invalidParameter("BERT layer \(layer) is outside 0…\(model.config.layerCount) for this \(model.config.layerCount)-layer model")
        }
        if let b = baseline, b.precision >= 1 || b.recall >= 1 || b.f1 >= 1 {
            throw EvalError.invalidParameter("BERTScore baseline values must be below 1, got \(b.precision), \(b.recall), \(b.f1)")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.layer = layer
        self.baseline = baseline
    }

    /// Ids and normalised embeddings of `text` (memoised per scorer).
    public func embed(_ text: String) throws -> BERTEmbedding {
        lock.lock()
        if let hit = cache[text] { lock.unlock(); return hit }
        lock.unlock()
        let ids = tokenizer.encode(text)
        var vectors = try model.hiddenStates(ids: ids, layers: layer)
        let d = model.config.hiddenSize
        for t in 0..<ids.count {
            var norm: Float = 0
            for i in 0..<d { norm += vectors[t * d + i] * vectors[t * d + i] }
            let inv = 1 / norm.squareRoot()
            for i in 0..<d { vectors[t * d + i] *= inv }
        }
        let embedding = BERTEmbedding(ids: ids, vectors: vectors, dimension: d)
        lock.lock()
        cache[text] = embedding
        lock.unlock()
        return embedding
    }

    /// IDF weights from `references` (bert_score's `idf=True` computes them on the references
    /// being scored).
    public func idf(references: [String]) -> IDFWeights {
        IDFWeights(encodedReferences: references.map { tokenizer.encode($0) })
    }

    /// Scores `candidates[i]` against `references[i]` exactly as
    /// `bert_score.score(cands, refs, idf=…, batch_size=batchSize)`: with `idf` the weights
    /// come from all the references, and the zero padding of each batch is reproduced.
    public func score(candidates: [String], references: [String], idf: Bool = false, batchSize: Int = 64) throws -> [BERTScore] {
        try score(candidates: candidates, references: references, idf: idf ? self.idf(references: references) : nil, batchSize: batchSize)
    }

    /// As above with given idf weights (nil: uniform).
    public func score(candidates: [String], references: [String], idf: IDFWeights?, batchSize: Int = 64) throws -> [BERTScore] {
        guard candidates.count == references.count else {
            throw EvalError.invalidParameter("\(candidates.count) candidates but \(references.count) references")
        }
        guard batchSize >= 1 else { throw EvalError.invalidParameter("BERTScore batch size must be ≥ 1, got \(batchSize)") }
        let weight = weightFunction(idf)
        var scores: [BERTScore] = []
        for start in stride(from: 0, to: candidates.count, by: batchSize) {
            let range = start..<min(start + batchSize, candidates.count)
            let c = try range.map { try embed(candidates[$0]) }
            let r = try range.map { try embed(references[$0]) }
            let longestCandidate = c.map(\.ids.count).max() ?? 0
            let longestReference = r.map(\.ids.count).max() ?? 0
            for i in c.indices {
                let raw = Self.greedyMatch(candidate: c[i], reference: r[i], weight: weight,
                                           referencePadded: r[i].ids.count < longestReference,
                                           candidatePadded: c[i].ids.count < longestCandidate)
                scores.append(baseline?.rescale(raw) ?? raw)
            }
        }
        return scores
    }

    /// One pair, as a batch of one; `idf` nil gives every token weight 1 (`[CLS]`/`[SEP]` 0).
    public func score(candidate: String, reference: String, idf: IDFWeights? = nil) throws -> BERTScore {
        let raw = Self.greedyMatch(candidate: try embed(candidate), reference: try embed(reference),
                                   weight: weightFunction(idf))
        return baseline?.rescale(raw) ?? raw
    }

    private func weightFunction(_ idf: IDFWeights?) -> (Int) -> Double {
        if let idf { return idf.weight }
        let cls = tokenizer.clsID, sep = tokenizer.sepID
        return { $0 == cls || $0 == sep ? 0 : 1 }
    }

    /// bert_score's `greedy_cos_idf` for one pair of normalised embeddings. A padded partner
    /// (shorter than the longest in its batch) contributes similarities of 0 to the maxima.
    static func greedyMatch(candidate c: BERTEmbedding, reference ref: BERTEmbedding, weight: (Int) -> Double,
                            referencePadded: Bool = false, candidatePadded: Bool = false) -> BERTScore {
        let d = c.dimension
        let m = c.ids.count, n = ref.ids.count
        var bestForCandidate = [Float](repeating: referencePadded ? 0 : -.infinity, count: m)
        var bestForReference = [Float](repeating: candidatePadded ? 0 : -.infinity, count: n)
        c.vectors.withUnsafeBufferPointer { cv in
            ref.vectors.withUnsafeBufferPointer { rv in
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Float = 0
                        let a = cv.baseAddress! + i * d, b = rv.baseAddress! + j * d
                        for k in 0..<d { s += a[k] * b[k] }
                        bestForCandidate[i] = max(bestForCandidate[i], s)
                        bestForReference[j] = max(bestForReference[j], s)
                    }
                }
            }
        }
        // Weights normalised per sentence; a zero total gives NaN, as in bert_score.
        func weighted(_ ids: [Int], _ best: [Float]) -> Double {
            let w = ids.map(weight)
            let total = w.reduce(0, +)
            return zip(w, best).reduce(0) { $0 + $1.0 / total * Double($1.1) }
        }
        var p = weighted(c.ids, bestForCandidate)
        var r = weighted(ref.ids, bestForReference)
        var f = 2 * p * r / (p + r)
        if f.isNaN { f = 0 }
        // An empty sentence is just [CLS] [SEP]: bert_score zeroes P and R (F is already NaN → 0).
        if m == 2 || n == 2 { p = 0; r = 0 }
        return BERTScore(precision: p, recall: r, f1: f)
    }
}
