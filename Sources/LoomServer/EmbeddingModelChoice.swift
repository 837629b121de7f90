import Foundation
import LoomEval
import LoomGeneration
import LoomHub
import LoomKernels
import LoomModels

/// Where `POST /v1/embeddings` gets its vectors (`loom serve --embedding-model`).
public enum EmbeddingModelChoice: Sendable {
    /// No embeddings: the endpoint answers 404 naming the option that turns it on.
    case none
    /// A text encoder, loaded on the first request (a ModelStore name may be fetched then).
    /// `name` is reported until it has loaded.
    case encoder(name: String, load: @Sendable () throws -> any TextEmbedder)
    /// The served decoder itself, its hidden states pooled (``DecoderEmbedder``).
    case decoder(pooling: EmbeddingPooling)

    /// all-MiniLM-L6-v2 from the ModelStore (`minilm`), the default: 384-wide
    /// sentence-transformers vectors, as OpenAI clients expect from a small embedding model.
    public static let miniLM = encoder(name: "all-MiniLM-L6-v2") {
        try SentenceEncoder(path: ModelStore().resolve("minilm"))
    }

    /// A BERT checkpoint (directory or `.safetensors`, see `BertCheckpointFiles`) or a
    /// ModelStore name.
    public static func encoder(path: String, pooling: EmbeddingPooling? = nil) -> EmbeddingModelChoice {
        .encoder(name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension) {
            try SentenceEncoder(path: ModelStore().resolve(path), pooling: pooling)
        }
    }
}

/// The server's embedding model: made on first use, then shared; calls run on a private
/// queue, one at a time, so a long batch never blocks the event loop.
final class EmbeddingService: @unchecked Sendable {
    let choice: EmbeddingModelChoice
    private let threads: Int?
    private let lock = NSLock()
    private var embedder: (any TextEmbedder)?
    private let queue = DispatchQueue(label: "loom.server.embeddings")

    init(choice: EmbeddingModelChoice, threads: Int?) {
        self.choice = choice
        self.threads = threads
    }

    /// Runs `body` with the embedding model on the service's queue (loading it first if
    /// needed). A failed load is not remembered: the next request tries again.
    func perform<T: Sendable>(served: ServedModel, _ body: @escaping @Sendable (any TextEmbedder) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try body(try embedderLoaded(served: served)) })
            }
        }
    }

    private func embedderLoaded(served: ServedModel) throws -> any TextEmbedder {
        if let embedder = lock.withLock({ embedder }) { return embedder }
        let made: any TextEmbedder
        switch choice {
        case .none:
            throw APIError(.notFound, "this server has no embedding model; start it with --embedding-model minilm|PATH|decoder",
                           code: "embeddings_disabled")
        case .encoder(let name, let load):
            do {
                made = try load()
            } catch {
                throw APIError(.internalServerError, "the embedding model \(name) failed to load: \(error)", type: "server_error",
                               code: "embedding_model_load_failed")
            }
        case .decoder(let pooling):
            made = DecoderEmbedder(model: served.model, pooling: pooling, name: served.id, maxTokens: served.contextLength,
                                   pool: ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors))
        }
        lock.withLock { embedder = made }
        return made
    }
}
