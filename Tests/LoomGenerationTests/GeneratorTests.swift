import Foundation
import XCTest
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels
import LoomTokenizer
@testable import LoomGeneration

/// The generation loop on the real default model: stop rules, limits, determinism, errors.
final class GeneratorTests: XCTestCase {
    static let model: LanguageModel? = try? LanguageModel(path: ModelStore().resolve("smollm2", progress: .silent))

    func makeGenerator(context: Int = 512) throws -> Generator {
        let model = try XCTUnwrap(Self.model, "the default model could not be loaded")
        return Generator(session: try model.makeSession(contextLength: context, pool: ThreadPool(threadCount: 2)))
    }

    func chatPrompt(_ generator: Generator, _ user: String) -> [Int] {
        let text = try! ChatFormatter(model: generator.model).render([.user(user)])
        return generator.model.tokenizer.encode(text, addSpecial: false)
    }

    var greedy: GenerationOptions {
        var o = GenerationOptions(maxTokens: 48)
        o.sampling = .greedy
        return o
    }

    func testGreedyAnswerEndsAtEndOfGenerationToken() throws {
        let g = try makeGenerator()
        var options = greedy
        options.maxTokens = 200
        var streamed = ""
        var sawEnd = false
        let result = try g.generate(prompt: chatPrompt(g, "Say hello in one word."), options: options) { token in
            streamed += token.text
            sawEnd = sawEnd || token.isEndOfGeneration
            return true
        }
        XCTAssertEqual(result.finishReason, .stop)
        XCTAssertTrue(sawEnd)
        XCTAssertEqual(streamed, result.text)
        XCTAssertFalse(result.text.contains("<|im_end|>"))
        XCTAssertFalse(result.tokens.contains { g.model.tokenizer.endOfGenerationIDs.contains($0) })
        XCTAssertLessThan(result.tokens.count, 200)
        XCTAssertEqual(result.text, g.model.tokenizer.decode(result.tokens))
    }

    func testMaxTokensAndDeterministicSeed() throws {
        let g = try makeGenerator()
        var options = GenerationOptions(maxTokens: 12)
        options.sampling.seed = 42
        options.sampling.temperature = 1.0
        let prompt = g.model.tokenizer.encode("Once upon a time", addSpecial: true)
        let a = try g.generate(prompt: prompt, options: options)
        let b = try g.generate(prompt: prompt, options: options)
        XCTAssertEqual(a.tokens.count, 12)
        XCTAssertEqual(a.finishReason, .length)
        XCTAssertEqual(a.tokens, b.tokens, "same seed, same tokens")
        options.sampling.seed = 43
        let c = try g.generate(prompt: prompt, options: options)
        XCTAssertNotEqual(a.tokens, c.tokens, "another seed should sample another continuation")
    }

    /// A stop string ends generation and no part of it is emitted, even when it is split
    /// across tokens; the text before it is emitted in full.
    func testStopStringIsNeverPrinted() throws {
        let g = try makeGenerator()
        let prompt = g.model.tokenizer.encode("1, 2, 3, 4, 5,", addSpecial: true)
        let free = try g.generate(prompt: prompt, options: greedy)
        XCTAssertTrue(free.text.contains(" 9,"), "reference continuation: \(free.text)")
        var options = greedy
        options.stopStrings = [" 9,"]
        var streamed = ""
        let stopped = try g.generate(prompt: prompt, options: options) { streamed += $0.text; return true }
        XCTAssertEqual(stopped.finishReason, .stop)
        XCTAssertEqual(streamed, stopped.text)
        let expected = String(free.text[..<free.text.range(of: " 9,")!.lowerBound])
        XCTAssertEqual(stopped.text, expected)
    }

    func testCallbackCancels() throws {
        let g = try makeGenerator()
        var count = 0
        let r = try g.generate(prompt: g.model.tokenizer.encode("Hello", addSpecial: true), options: greedy) { _ in
            count += 1
            return count < 3
        }
        XCTAssertEqual(r.finishReason, .cancelled)
        XCTAssertEqual(r.tokens.count, 3)
    }

    func testContextLimitsAndBadParameters() throws {
        let g = try makeGenerator(context: 16)
        let long = g.model.tokenizer.encode(String(repeating: "word ", count: 40), addSpecial: true)
        XCTAssertThrowsError(try g.generate(prompt: long, options: greedy)) {
            XCTAssertEqual($0 as? GenerationError, .promptTooLong(tokens: long.count, context: 16))
            XCTAssertTrue("\($0)".contains("--ctx"))
        }
        // Generation that reaches the end of the context stops with `length`.
        let short = g.model.tokenizer.encode("One two three", addSpecial: true)
        var options = greedy
        options.maxTokens = 100
        options.stopAtEndOfGeneration = false
        let r = try g.generate(prompt: short, options: options)
        XCTAssertEqual(r.finishReason, .length)
        XCTAssertEqual(short.count + r.tokens.count, 16)
        XCTAssertThrowsError(try g.generate(prompt: [], options: greedy)) { XCTAssertEqual($0 as? GenerationError, .emptyPrompt) }
        options.maxTokens = -1
        XCTAssertThrowsError(try g.generate(prompt: short, options: options))
        var bad = greedy
        bad.sampling.topP = 1.5
        XCTAssertThrowsError(try g.generate(prompt: short, options: bad)) { XCTAssertTrue("\($0)".contains("top"), "\($0)") }
    }

    func testTopLogprobsAreNormalisedAndIncludeChosenToken() throws {
        let g = try makeGenerator()
        var options = greedy
        options.maxTokens = 4
        options.topLogprobs = 5
        var tokens: [GeneratedToken] = []
        _ = try g.generate(prompt: g.model.tokenizer.encode("The capital of France is", addSpecial: true), options: options) {
            tokens.append($0); return true
        }
        XCTAssertEqual(tokens.count, 4)
        for t in tokens {
            XCTAssertEqual(t.topLogprobs.count, 5)
            XCTAssertEqual(t.topLogprobs.first?.id, t.id, "greedy picks the most likely token")
            XCTAssertEqual(t.logprob?.logprob ?? 1, t.topLogprobs[0].logprob, accuracy: 1e-6)
            XCTAssertLessThanOrEqual(t.topLogprobs.map { exp(Double($0.logprob)) }.reduce(0, +), 1.0 + 1e-5)
            XCTAssertEqual(t.topLogprobs.map(\.logprob), t.topLogprobs.map(\.logprob).sorted(by: >))
        }
    }

    func testChatFormatterRunsTheModelsOwnTemplate() throws {
        let model = try XCTUnwrap(Self.model)
        let formatter = try ChatFormatter(model: model)
        // SmolLM2's template inserts its default system prompt when there is none.
        XCTAssertEqual(try formatter.render([.user("hi")]),
                       "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(try formatter.render([.system("S"), .user("hi")], addGenerationPrompt: false),
                       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n")
        let llama = try ChatFormatter(templateSource: "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>{% endfor %}",
                                      bosToken: "<|begin_of_text|>", eosToken: "<|eot_id|>")
        XCTAssertEqual(try llama.render([.user(" U ")], addGenerationPrompt: false),
                       "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>")
        XCTAssertThrowsError(try ChatFormatter(templateSource: "{% if %}", bosToken: "", eosToken: "")) { error in
            XCTAssertTrue("\(error)".contains("line 1"), "\(error)")
        }
        let raising = try ChatFormatter(templateSource: "{{ raise_exception('roles must alternate') }}", bosToken: "", eosToken: "")
        XCTAssertThrowsError(try raising.render([.user("x")])) { error in
            XCTAssertTrue("\(error)".contains("roles must alternate"), "\(error)")
        }
    }
}
