import Foundation
import LoomGeneration
import LoomKernels
import LoomModels

/// Sentence embeddings from a BERT encoder, as sentence-transformers computes them
/// (`SentenceTransformer.encode`: `Transformer` → `Pooling` → `Normalize`;
/// UKPLab/sentence-transformers `sentence_transformers/models/Pooling.py`): the text as
/// `[CLS] pieces… [SEP]` truncated to ``maxTokens``, the last layer's hidden states, mean
/// (or `[CLS]`) pooling over every token, then L2 normalisation.
///
/// all-MiniLM-L6-v2 (the ModelStore's `minilm`, and the server's default embedding model)
/// gives 384-wide vectors and reads at most 256 tokens, its `sentence_bert_config.json`'s
/// `max_seq_length` (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2). Longer
/// text is truncated there, as sentence-transformers does; token-id input longer than that is
/// an error.
///
/// ```swift
/// let encoder = try SentenceEncoder(path: ModelStore().resolve("minilm"))
/// let (vector, _) = try encoder.embed("A blockchain is a shared ledger.")
/// ```
public final class SentenceEncoder: TextEmbedder, @unchecked Sendable {
    public let model: BertModel
    public let tokenizer: WordPieceTokenizer
    public let pooling: EmbeddingPooling
    public let name: String
    private let lock = NSLock()

    /// all-MiniLM-L6-v2's `max_seq_length`, used when its files come without
    /// `sentence_bert_config.json` (the ModelStore's layout).
    static let miniLMMaxSequenceLength = 256

    /// Loads a BERT checkpoint (see ``BertCheckpointFiles``).
    ///
    /// - `maxTokens`: nil = `max_seq_length` of a `sentence_bert_config.json` beside the
    ///   weights; else 256 for all-MiniLM-L6-v2 files; else the model's positions (what
    ///   sentence-transformers does for a plain Hugging Face directory).
    /// - `pooling`: nil = `1_Pooling/config.json`'s mode when there is one, else mean.
    ///   `last` is refused: BERT encoders are not trained for it.
    public convenience init(path: String, maxTokens: Int? = nil, pooling: EmbeddingPooling? = nil,
                            name: String? = nil, pool: ThreadPool = ThreadPool()) throws {
        let model = try BertModel(path: path, pool: pool)
        let directory = (model.files.weights as NSString).deletingLastPathComponent
        let settings = try Self.sentenceTransformersSettings(in: directory)
        let isMiniLM = model.files.weights.contains("all-MiniLM-L6-v2")
        let limit = maxTokens ?? settings.maxSequenceLength
            ?? (isMiniLM ? Self.miniLMMaxSequenceLength : model.config.maxPositions)
        let defaultName = isMiniLM ? "all-MiniLM-L6-v2" : (directory as NSString).lastPathComponent
        try self.init(model: model, maxTokens: limit, pooling: pooling ?? settings.pooling ?? .mean, name: name ?? defaultName)
    }

    public init(model: BertModel, maxTokens: Int, pooling: EmbeddingPooling = .mean, name: String) throws {
        guard maxTokens >= 2, maxTokens <= model.config.maxPositions else {
            throw EvalError.invalidParameter("embedding max tokens must be 2…\(model.config.maxPositions) for this BERT model, got \(maxTokens)")
        }
        guard pooling != .last else {
            throw EvalError.invalidParameter("pooling `last` is for decoder models; a BERT encoder pools `mean` or `cls`")
        }
        self.model = model
        self.tokenizer = try WordPieceTokenizer(for: model, maxLength: maxTokens)
        self.pooling = pooling
        self.name = name
    }

    public var dimension: Int { model.config.hiddenSize }
    public var maxTokens: Int { tokenizer.maxLength }
    public var vocabularySize: Int { model.config.vocabSize }

    public func tokenize(_ text: String) -> [Int] { tokenizer.encode(text) }

    public func embed(tokens: [Int], normalize: Bool) throws -> [Float] {
        try validate(tokens)
        let states = try lock.withLock { try model.hiddenStates(ids: tokens) }
        let d = dimension
        var vector = [Float](repeating: 0, count: d)
        switch pooling {
        case .cls:
            for i in 0..<d { vector[i] = states[i] }
        case .mean, .last:
            var sum = [Double](repeating: 0, count: d)
            for t in 0..<tokens.count {
                for i in 0..<d { sum[i] += Double(states[t * d + i]) }
            }
            for i in 0..<d { vector[i] = Float(sum[i] / Double(tokens.count)) }
        }
        if normalize { VectorOps.normalizeL2(&vector) }
        return vector
    }

    /// `max_seq_length` from `sentence_bert_config.json` and the pooling mode from
    /// `1_Pooling/config.json`, when a sentence-transformers directory has them. A pooling
    /// mode this encoder does not implement (max, mean-sqrt-len, weighted) is an error rather
    /// than a different vector.
    static func sentenceTransformersSettings(in directory: String) throws -> (maxSequenceLength: Int?, pooling: EmbeddingPooling?) {
        func object(_ name: String) -> [String: Any]? {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }
        let length = object("sentence_bert_config.json")?["max_seq_length"] as? Int
        var pooling: EmbeddingPooling?
        if let p = object("1_Pooling/config.json") {
            let on = p.filter { $0.key.hasPrefix("pooling_mode_") && $0.value as? Bool == true }.map(\.key).sorted()
            switch on {
            case ["pooling_mode_cls_token"]: pooling = .cls
            case ["pooling_mode_mean_tokens"]: pooling = .mean
            case ["pooling_mode_lasttoken"]: pooling = .last
            default:
                throw EvalError.invalidParameter("\(directory)/1_Pooling/config.json: pooling \(on.joined(separator: " + ")) is not supported (one of cls, mean)")
            }
        }
        return (length, pooling)
    }
}
