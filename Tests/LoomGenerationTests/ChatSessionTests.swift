import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomModels
@testable import LoomGeneration

/// Prefix reuse, continuation scoring and the async `LLM` API on the real default model.
final class ChatSessionTests: XCTestCase {
    var model: LanguageModel { get throws { try XCTUnwrap(GeneratorTests.model, "the default model could not be loaded") } }

    func testReusedPrefixGivesTheSameAnswerAsAFreshContext() throws {
        let model = try self.model
        let formatter = try ChatFormatter(model: model)
        let first: [ChatMessage] = [.user("Name a colour.")]
        let reused = Generator(session: try model.makeSession(contextLength: 512, pool: ThreadPool(threadCount: 2)))
        var options = GenerationOptions(maxTokens: 12)
        options.sampling = .greedy
        let answer = try reused.generate(prompt: model.tokenizer.encode(try formatter.render(first), addSpecial: false), options: options)
        let second = first + [.assistant(answer.text), .user("Name another one.")]
        let ids = model.tokenizer.encode(try formatter.render(second), addSpecial: false)
        let cachedBefore = reused.cachedTokens.count
        let warm = try reused.generate(prompt: ids, options: options)
        XCTAssertGreaterThan(cachedBefore, 10, "the first turn should be cached")

        let fresh = Generator(session: try model.makeSession(contextLength: 512, pool: ThreadPool(threadCount: 2)))
        let cold = try fresh.generate(prompt: ids, options: options)
        XCTAssertEqual(warm.tokens, cold.tokens)
    }

    func testLogLikelihoodEqualsTheSumOfPerPositionLogSoftmax() throws {
        let model = try self.model
        // f32 cache: the scorer's decode path and the reference's prompt path round keys the same.
        let generator = Generator(session: try model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2), cacheTypes: .f32))
        let context = model.tokenizer.encode("The capital of France is", addSpecial: true)
        let continuation = model.tokenizer.encode(" Paris, a city", addSpecial: false)
        let scored = try generator.logLikelihood(context: context, continuation: continuation)

        // Independent path: one evaluation of everything, log-softmax in Double by hand.
        let session = try model.makeSession(contextLength: 256, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        let all = context + continuation
        var expected = 0.0
        try session.evaluate(Array(all.dropLast())) { index, logits in
            guard index >= context.count - 1 else { return }
            let target = all[index + 1]
            let m = Double(logits.max()!)
            let lse = m + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
            expected += Double(logits[target]) - lse
        }
        XCTAssertEqual(scored.logprob, expected, accuracy: 1e-3)
        XCTAssertLessThan(scored.logprob, 0)
        XCTAssertTrue(try generator.logLikelihood(context: context, continuation: model.tokenizer.encode(" Paris", addSpecial: false)).isGreedy)
        XCTAssertThrowsError(try generator.logLikelihood(context: context, continuation: []))
    }

    func testLLMStreamsChatAndStopsWhenTheTaskIsCancelled() async throws {
        let llm = try LLM(model: try model, contextLength: 512, threads: 2)
        var options = GenerationOptions(maxTokens: 20)
        options.sampling = .greedy
        var streamed = ""
        for try await chunk in llm.chat([.user("What is the capital of France?")], options: options) {
            streamed += chunk
        }
        let whole = try await llm.respond(to: [.user("What is the capital of France?")], options: options)
        XCTAssertEqual(streamed, whole.text)
        XCTAssertTrue(streamed.contains("Paris"), streamed)

        // Cancelling the consumer ends generation early, well before 400 tokens.
        options.maxTokens = 400
        let task = Task {
            var count = 0
            for try await _ in llm.completions("Once upon a time", options: options) {
                count += 1
                if count == 3 { withUnsafeCurrentTask { $0?.cancel() } }
            }
            return count
        }
        let count = try await task.value
        XCTAssertLessThan(count, 40)

        let completion = try await llm.complete("The capital of France is", options: GenerationOptions(maxTokens: 3, sampling: .greedy))
        XCTAssertTrue(completion.hasPrefix(" Paris"), completion)
        XCTAssertEqual(llm.detokenize(llm.tokenize("Hello world", addSpecial: false)), "Hello world")
    }
}
