/// A model that turns a text into one vector: the engine behind `POST /v1/embeddings` and
/// `loom embed`. ``DecoderEmbedder`` pools a decoder's hidden states; LoomEval's
/// `SentenceEncoder` runs a BERT sentence encoder (all-MiniLM-L6-v2).
///
/// Implementations are safe to call from several threads (calls run one at a time).
public protocol TextEmbedder: AnyObject, Sendable {
    /// The model's name, as responses report it.
    var name: String { get }
    /// Length of every vector.
    var dimension: Int { get }
    /// Most tokens one input may have (an encoder truncates text to it; token-id input
    /// longer than it is an error).
    var maxTokens: Int { get }
    /// Size of the vocabulary token-id input is checked against.
    var vocabularySize: Int { get }
    /// The token ids the model reads for `text`, special tokens and truncation included.
    func tokenize(_ text: String) -> [Int]
    /// The embedding of `tokens` (as ``tokenize(_:)`` makes them), L2-normalised when
    /// `normalize` is set.
    ///
    /// - Throws: ``EmbeddingError`` naming the problem: no tokens, more than ``maxTokens``,
    ///   an id outside the vocabulary.
    func embed(tokens: [Int], normalize: Bool) throws -> [Float]
}

extension TextEmbedder {
    /// The embedding of `text` and the number of tokens it took.
    public func embed(_ text: String, normalize: Bool = true) throws -> (vector: [Float], tokenCount: Int) {
        let ids = tokenize(text)
        return (try embed(tokens: ids, normalize: normalize), ids.count)
    }

    /// Checks token-id input against ``maxTokens`` and ``vocabularySize``.
    public func validate(_ tokens: [Int]) throws {
        guard !tokens.isEmpty else { throw EmbeddingError.emptyInput }
        guard tokens.count <= maxTokens else { throw EmbeddingError.tooLong(tokens: tokens.count, limit: maxTokens) }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw EmbeddingError.tokenOutOfRange(token: bad, vocabularySize: vocabularySize)
        }
    }
}

/// Why an input cannot be embedded.
public enum EmbeddingError: Error, CustomStringConvertible, Equatable {
    case emptyInput
    case tooLong(tokens: Int, limit: Int)
    case tokenOutOfRange(token: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case .emptyInput: return "the input has no tokens to embed"
        case let .tooLong(tokens, limit):
            return "the input has \(tokens) tokens, more than the embedding model's limit of \(limit)"
        case let .tokenOutOfRange(token, vocabularySize):
            return "token id \(token) is outside the embedding model's vocabulary of \(vocabularySize)"
        }
    }
}
