import Foundation
import LoomGeneration
import LoomKernels
import LoomModels

/// A local chat model answering one user message at a time, greedily, for `loom data
/// format --synthesize qa`: each message starts a new conversation (no history).
final class ChatReplyWriter {
    let model: LanguageModel
    let formatter: ChatFormatter
    let generator: Generator
    let options: GenerationOptions

    init(model name: String, contextLength: Int, maxTokens: Int, threads: Int?) throws {
        let path = try ModelLocator.resolve(name)
        StandardError.print("loading \(path) to write question/answer pairs")
        model = try LanguageModel(path: path)
        guard model.chatTemplate != nil else {
            throw ChatError.noTemplate(model: (path as NSString).lastPathComponent)
        }
        formatter = try ChatFormatter(model: model)
        let pool = ThreadPool(threadCount: threads ?? ThreadPool.availableProcessors)
        generator = Generator(session: try model.makeSession(contextLength: contextLength, pool: pool))
        // Greedy: the same corpus gives the same pairs.
        options = GenerationOptions(maxTokens: maxTokens, sampling: SamplingParameters(temperature: 0))
    }

    /// The model's reply to `message`.
    func reply(_ message: String) throws -> String {
        let prompt = try formatter.render([.user(message)], tools: nil, addGenerationPrompt: true)
        let tokens = model.tokenizer.encode(prompt, addSpecial: false)
        return try generator.generate(prompt: tokens, options: options).text
    }
}
