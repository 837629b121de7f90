import Foundation
import Hummingbird
import LoomGeneration

/// `POST /v1/embeddings` (OpenAI's shape, llama-server's extras): every input embedded by the
/// server's ``EmbeddingService``, answered as
/// `{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}`.
///
/// Vectors are L2-normalised unless `embd_normalize` is -1. Text longer than an encoder's
/// limit is truncated (sentence-transformers' behaviour, counted in `usage`); text or token
/// ids longer than a decoder's context are a 400 naming the input.
struct EmbeddingsHandler {
    let served: ServedModel
    let service: EmbeddingService

    func handle(body: Data) async throws -> Response {
        let request = try APIRequestDecoder.embedding(body)
        let results = try await service.perform(served: served) { embedder in
            if let d = request.dimensions, d != embedder.dimension {
                throw APIError.invalid("dimensions", "\(embedder.name) gives \(embedder.dimension)-dimensional vectors and cannot shorten them; leave `dimensions` out")
            }
            let vectors = try request.inputs.enumerated().map { i, input -> (vector: [Float], tokens: Int) in
                let field = request.inputs.count == 1 ? "input" : "input[\(i)]"
                let tokens: [Int]
                switch input {
                case .text(let text): tokens = embedder.tokenize(text)
                case .tokens(let ids): tokens = ids
                }
                do {
                    return (try embedder.embed(tokens: tokens, normalize: request.normalize), tokens.count)
                } catch let error as EmbeddingError {
                    throw APIError.invalid(field, "\(error)")
                }
            }
            return (name: embedder.name, vectors: vectors)
        }
        let data: [[String: Any]] = results.vectors.enumerated().map { i, result in
            ["object": "embedding", "index": i,
             "embedding": request.base64 ? Self.base64(result.vector) as Any : result.vector.map { Double($0) } as Any]
        }
        let tokens = results.vectors.reduce(0) { $0 + $1.tokens }
        return JSON.response(["object": "list", "data": data, "model": results.name,
                              "usage": ["prompt_tokens": tokens, "total_tokens": tokens]])
    }

    /// OpenAI's `encoding_format: "base64"`: the float32 values' little-endian bytes, base64.
    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for v in vector {
            let bits = v.bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }  // low byte first
        }
        return Data(bytes).base64EncodedString()
    }
}
