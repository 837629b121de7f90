import Foundation

/// A decoded `/v1/embeddings` request (see ``APIRequestDecoder/embedding(_:)``).
public struct EmbeddingRequest: Sendable {
    /// The `model` asked for, if any (any name is served by the embedding model).
    public let model: String?
    /// `input`: one entry per vector wanted, text or token ids.
    public let inputs: [PromptInput]
    /// `encoding_format: "base64"`: each vector as base64 of its little-endian float32 bytes.
    public let base64: Bool
    /// `dimensions`, accepted only when it equals the model's (vectors are never shortened).
    public let dimensions: Int?
    /// llama.cpp's `embd_normalize`: true (2, the default) for unit Euclidean length, false
    /// (-1) for the raw pooled vector.
    public let normalize: Bool

    /// OpenAI's limit on inputs per request.
    public static let maxInputs = 2048
    /// The fields this endpoint reads (besides ``JSONFields/ignoredFields``). Any other field
    /// is a 400 naming it, rather than an option silently ignored.
    static let knownFields: Set<String> = ["model", "input", "encoding_format", "dimensions", "embd_normalize"]
}

extension APIRequestDecoder {
    /// A `/v1/embeddings` body: `input` as a string, an array of strings, an array of token
    /// ids or an array of arrays of ids (each non-empty, at most ``EmbeddingRequest/maxInputs``);
    /// `encoding_format` `float` or `base64`; `dimensions` (see ``EmbeddingRequest/dimensions``);
    /// `embd_normalize` 2 or -1. Token ids are checked against the embedding model later.
    public static func embedding(_ body: Data) throws -> EmbeddingRequest {
        let fields = try JSONFields(body: body)
        try fields.refuseUnknown(EmbeddingRequest.knownFields, endpoint: "/v1/embeddings")
        let model = try fields.string("model")
        let inputs = try parsePrompts(fields, key: "input", vocabularySize: Int.max)
        guard inputs.count <= EmbeddingRequest.maxInputs else {
            throw APIError.invalid("input", "has \(inputs.count) entries; at most \(EmbeddingRequest.maxInputs) are allowed")
        }
        for (i, input) in inputs.enumerated() {
            let field = inputs.count == 1 ? "input" : "input[\(i)]"
            switch input {
            case .text(let s) where s.isEmpty: throw APIError.invalid(field, "must not be an empty string")
            case .tokens(let ids) where ids.isEmpty: throw APIError.invalid(field, "must not be an empty array of token ids")
            default: break
            }
        }
        let format = try fields.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.invalid("encoding_format", "must be \"float\" or \"base64\", got \"\(format)\"")
        }
        let dimensions = try fields.int("dimensions")
        if let dimensions, dimensions < 1 { throw APIError.invalid("dimensions", "must be at least 1, got \(dimensions)") }
        let norm = try fields.int("embd_normalize") ?? 2
        guard norm == 2 || norm == -1 else {
            throw APIError.invalid("embd_normalize", "must be 2 (Euclidean) or -1 (none), got \(norm)")
        }
        return EmbeddingRequest(model: model, inputs: inputs, base64: format == "base64", dimensions: dimensions, normalize: norm == 2)
    }
}
