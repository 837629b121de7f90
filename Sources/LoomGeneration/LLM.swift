import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels
import LoomTokenizer

/// The app-level entry point: a loaded model with its tokenizer, chat template and one
/// generation context, usable from Swift concurrency.
///
/// ```swift
/// import LoomGeneration
///
/// let llm = try await LLM.load("smollm2")          // a catalog name or a .gguf path
/// for try await chunk in llm.chat([.user("What is a blockchain?")]) {
///     print(chunk, terminator: "")
/// }
/// let haiku = try await llm.complete("A haiku about autumn:\n", options: GenerationOptions(maxTokens: 40))
/// ```
///
/// Requests run one at a time on a private thread, in the order they were made; the KV
/// cache keeps the previous request's tokens, so a chat's next turn evaluates only what is
/// new. Cancelling the consuming task (or dropping the stream) stops generation at the next
/// token.
public final class LLM: @unchecked Sendable {
    public let model: LanguageModel
    /// The chat formatter (nil when the model has no template and none was given).
    public let formatter: ChatFormatter?
    private let generator: Generator
    private let queue = DispatchQueue(label: "loom.llm.generation")

    /// Wraps an already loaded model with a context of `contextLength` tokens.
    public init(model: LanguageModel, contextLength: Int? = nil, threads: Int? = nil, template: String? = nil, date: Date? = nil) throws {
        self.model = model
        let pool = ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors)
        generator = Generator(session: try model.makeSession(contextLength: contextLength, pool: pool))
        if template != nil || model.chatTemplate != nil {
            formatter = try ChatFormatter(model: model, template: template, date: date)
        } else {
            formatter = nil
        }
    }

    /// Loads a catalog model by name (fetching it on first use) or a GGUF file by path, off
    /// the caller's thread.
    public static func load(_ nameOrPath: String? = nil, contextLength: Int? = nil, threads: Int? = nil,
                            template: String? = nil, progress: FetchProgress = .silent) async throws -> LLM {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let path = try ModelStore().resolve(nameOrPath, progress: progress)
                    return try LLM(model: LanguageModel(path: path), contextLength: contextLength, threads: threads, template: template)
                })
            }
        }
    }

    /// Tokens the context holds (prompt plus answer must fit).
    public var contextLength: Int { generator.session.capacity }

    public func tokenize(_ text: String, addSpecial: Bool = true) -> [Int] {
        model.tokenizer.encode(text, addSpecial: addSpecial)
    }

    public func detokenize(_ ids: [Int]) -> String {
        model.tokenizer.decode(ids)
    }

    /// The prompt text for `messages` with the model's chat template.
    public func prompt(for messages: [ChatMessage], tools: Data? = nil) throws -> String {
        guard let formatter else { throw ChatError.noTemplate(model: (model.path as NSString).lastPathComponent) }
        return try formatter.render(messages, tools: tools, addGenerationPrompt: true)
    }

    /// Streams the assistant's answer to `messages` as text chunks.
    public func chat(_ messages: [ChatMessage], tools: Data? = nil, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<String, Error> {
        stream(options: options) { [self] in model.tokenizer.encode(try prompt(for: messages, tools: tools), addSpecial: false) }
    }

    /// Streams a plain-text continuation of `prompt` (BOS added as the model wants).
    public func completions(_ prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<String, Error> {
        stream(options: options) { [self] in tokenize(prompt) }
    }

    /// A plain-text continuation of `prompt`, whole.
    public func complete(_ prompt: String, options: GenerationOptions = GenerationOptions()) async throws -> String {
        try await generate(tokens: { [self] in tokenize(prompt) }, options: options, onToken: { _ in }).text
    }

    /// The assistant's whole answer to `messages`, with token counts, timings and the finish reason.
    public func respond(to messages: [ChatMessage], tools: Data? = nil, options: GenerationOptions = GenerationOptions()) async throws -> GenerationResult {
        try await generate(tokens: { [self] in model.tokenizer.encode(try prompt(for: messages, tools: tools), addSpecial: false) },
                           options: options, onToken: { _ in })
    }

    /// The log-probability the model gives `continuation` as the start of the assistant's
    /// answer to `messages` (for ranking fixed answers, e.g. labels, without sampling).
    public func logLikelihood(of continuation: String, after messages: [ChatMessage]) async throws -> Double {
        try await perform { [self] generator in
            let context = model.tokenizer.encode(try prompt(for: messages), addSpecial: false)
            return try generator.logLikelihood(context: context, continuation: tokenize(continuation, addSpecial: false)).logprob
        }
    }

    /// The model's embedding of `text`: its final hidden states pooled (``DecoderEmbedder``)
    /// and L2-normalised. Runs on the generation thread and leaves the chat's KV cache alone.
    public func embedding(of text: String, pooling: EmbeddingPooling = .mean) async throws -> [Float] {
        try await perform { [model] generator in
            try DecoderEmbedder(model: model, pooling: pooling, maxTokens: generator.session.capacity,
                                pool: generator.session.pool, options: generator.session.kernelOptions).embed(text).vector
        }
    }

    /// Runs `body` on the generation thread, after the requests made before it.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (Generator) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [generator] in continuation.resume(with: Result { try body(generator) }) }
        }
    }

    /// Runs one request on the generation thread; `onToken` sees every token as it comes.
    /// Cancelling the calling task stops generation at the next token (finish reason
    /// `.cancelled`).
    public func generate(tokens: @escaping @Sendable () throws -> [Int], options: GenerationOptions,
                         onToken: @escaping @Sendable (GeneratedToken) -> Void) async throws -> GenerationResult {
        let cancelled = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.async { [generator] in
                    continuation.resume(with: Result {
                        if cancelled.isSet { throw CancellationError() }
                        return try generator.generate(prompt: try tokens(), options: options) { token in
                            onToken(token)
                            return !cancelled.isSet
                        }
                    })
                }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    private func stream(options: GenerationOptions, _ tokens: @escaping @Sendable () throws -> [Int]) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let cancelled = CancellationFlag()
            continuation.onTermination = { _ in cancelled.set() }
            queue.async { [generator] in
                do {
                    if cancelled.isSet { throw CancellationError() }
                    _ = try generator.generate(prompt: try tokens(), options: options) { token in
                        if !token.text.isEmpty { continuation.yield(token.text) }
                        return !cancelled.isSet
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }
}

/// A flag one thread sets and another polls (cancellation of a running generation).
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
