import Foundation
import XCTest
import LoomHub
import LoomKernels
import LoomModels
import LoomTokenizer
@testable import LoomGeneration

/// Speculative decoding on the real default model (SmolLM2-135M Q4_1): the answers must be
/// those of plain decoding, token for token, for prompt lookup and for a draft model.
final class SpeculativeDecodingTests: XCTestCase {
    static let model: LanguageModel? = try? LanguageModel(path: ModelStore().resolve("smollm2", progress: .silent))

    func generator(context: Int = 1024) throws -> Generator {
        let model = try XCTUnwrap(Self.model, "the default model could not be loaded")
        return Generator(session: try model.makeSession(contextLength: context, pool: ThreadPool(threadCount: 2)))
    }

    func chat(_ model: LanguageModel, _ user: String) throws -> [Int] {
        model.tokenizer.encode(try ChatFormatter(model: model).render([.user(user)]), addSpecial: false)
    }

    static let passages = [
        "The river rose three feet overnight, and by morning the bridge to the old mill was under water.",
        "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the chloroplasts of a leaf.",
        "In 1969 two astronauts walked on the Moon while a third orbited above them in the command module.",
        "A good password is long, unique to one site, and stored in a password manager rather than on paper.",
        "The library opens at nine on weekdays, at ten on Saturdays, and stays closed on Sundays and holidays.",
        "Mix the flour and the salt, add warm water slowly, and knead the dough for ten minutes until it is smooth.",
        "Every prime number greater than two is odd, but not every odd number is prime: nine is a counterexample.",
        "The train to Lyon leaves from platform four at 7:42 and arrives shortly after noon, stopping twice.",
        "Octopuses have three hearts, blue blood, and can change the colour and texture of their skin in an instant.",
        "To reset the router, hold the small button on the back for ten seconds until the lights blink orange.",
    ]

    static let functions = [
        "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
        "func average(_ values: [Double]) -> Double {\n    var sum = 0.0\n    for v in values { sum += v }\n    return sum / Double(values.count)\n}\n",
        "def count_words(text):\n    words = text.split()\n    counts = {}\n    for w in words:\n        counts[w] = counts.get(w, 0) + 1\n    return counts\n",
        "function maxOf(arr) {\n  let m = arr[0];\n  for (const a of arr) { if (a > m) m = a; }\n  return m;\n}\n",
        "def is_palindrome(s):\n    t = s.lower()\n    return t == t[::-1]\n",
    ]

    /// 60 prompts: passages to repeat, quote and summarise, functions to edit and explain, and
    /// a few raw continuations (no chat format).
    func prompts(_ model: LanguageModel) throws -> [[Int]] {
        var result: [[Int]] = []
        for p in Self.passages {
            result.append(try chat(model, "Repeat this sentence exactly: \(p)"))
            result.append(try chat(model, "Quote the passage below, then say in five words what it is about.\n\n\(p)"))
            result.append(try chat(model, "Summarize in one sentence: \(p)"))
        }
        for f in Self.functions {
            result.append(try chat(model, "Rename the variable in this function to a clearer name and output the whole function:\n\n\(f)"))
            result.append(try chat(model, "Add a comment to each line of this code:\n\n\(f)"))
            result.append(try chat(model, "What does this function do?\n\n\(f)"))
        }
        for raw in ["1, 2, 3, 4, 5,", "The quick brown fox", "Once upon a time, in a small village,", "import numpy as np\n",
                    "Monday, Tuesday, Wednesday,", "<html>\n<head>\n", "Q: What is the capital of France?\nA:"] {
            result.append(model.tokenizer.encode(raw, addSpecial: true))
        }
        return result
    }

    /// Generates every prompt plainly and with `speculative`, checks the answers (tokens,
    /// text, finish reason) are identical, and returns the summed statistics. Verification
    /// rows are decode rows of a batch-invariant product (``KernelOptions/batchInvariant``),
    /// so each gets the logits a one-token step gives it, bit for bit: no near-tie may flip.
    @discardableResult
    func checkIdentical(_ speculative: SpeculativeOptions, options base: GenerationOptions, plain: Generator, fast: Generator,
                        prompts: [[Int]], file: StaticString = #filePath, line: UInt = #line) throws -> SpeculativeStats {
        var total = SpeculativeStats()
        var options = base
        for (n, prompt) in prompts.enumerated() {
            options.speculative = nil
            let expected = try plain.generate(prompt: prompt, options: options)
            options.speculative = speculative
            var streamed = ""
            let got = try fast.generate(prompt: prompt, options: options) { streamed += $0.text; return true }
            XCTAssertEqual(streamed, got.text, "prompt \(n)", file: file, line: line)
            XCTAssertEqual(got.tokens, expected.tokens,
                           "prompt \(n): \(plain.model.tokenizer.decode(prompt)) → \(expected.text) | \(got.text)", file: file, line: line)
            XCTAssertEqual(got.text, expected.text, "prompt \(n)", file: file, line: line)
            XCTAssertEqual(got.finishReason, expected.finishReason, "prompt \(n)", file: file, line: line)
            // The cache mirrors the session: the prompt (unless a context shift dropped part of
            // it) and every evaluated answer token.
            XCTAssertEqual(fast.cachedTokens.count, fast.session.position, "prompt \(n)", file: file, line: line)
            if got.contextShifts == 0 {
                XCTAssertEqual(Array(fast.cachedTokens.prefix(prompt.count)), prompt, file: file, line: line)
            }
            let s = try XCTUnwrap(got.speculative)
            XCTAssertLessThanOrEqual(s.accepted, s.drafted)
            total.drafted += s.drafted
            total.accepted += s.accepted
            total.verifications += s.verifications
            total.plainSteps += s.plainSteps
        }
        return total
    }

    var greedy: GenerationOptions {
        var o = GenerationOptions(maxTokens: 48)
        o.sampling = .greedy
        return o
    }

    func testPromptLookupGivesTheGreedyAnswerOver60Prompts() throws {
        let plain = try generator(), fast = try generator()
        let prompts = try self.prompts(plain.model)
        XCTAssertGreaterThanOrEqual(prompts.count, 50)
        let stats = try checkIdentical(.promptLookup(), options: greedy, plain: plain, fast: fast, prompts: prompts)
        // Copying prompts must let drafts through, or the test proves nothing.
        XCTAssertGreaterThan(stats.accepted, 300, "\(stats)")
        XCTAssertGreaterThan(stats.verifications, 100, "\(stats)")
    }

    /// Penalties, stop strings, short limits and a minimum draft length go through the same
    /// per-token rules whether tokens come from drafts or not.
    func testPromptLookupWithPenaltiesStopsAndLimits() throws {
        let plain = try generator(), fast = try generator()
        let prompts = Array(try self.prompts(plain.model).enumerated().filter { $0.offset % 3 == 0 }.map(\.element))
        var options = greedy
        options.sampling.repetitionPenalty = 1.3
        options.sampling.frequencyPenalty = 0.2
        try checkIdentical(.promptLookup(ngramMin: 2, ngramMax: 4, draftMax: 12, draftMin: 2), options: options,
                           plain: plain, fast: fast, prompts: prompts)
        options = greedy
        options.stopStrings = [" the ", "\n\n", "."]
        options.maxTokens = 21
        try checkIdentical(.promptLookup(draftMax: 5), options: options, plain: plain, fast: fast, prompts: prompts)
    }

    /// A seeded sampler draws once per position in order, so speculative sampling with
    /// prompt-lookup drafts draws the very tokens plain sampling with the same seed draws
    /// (verification rows get one-token logits bit for bit), and is reproducible run after run.
    func testSeededSamplingIsReproducible() throws {
        let first = try generator(), second = try generator(), plain = try generator()
        let prompts = Array(try self.prompts(first.model).prefix(15))
        var options = GenerationOptions(maxTokens: 40)
        options.sampling.temperature = 0.8
        options.sampling.seed = 1234
        options.speculative = .promptLookup()
        var accepted = 0
        for (n, prompt) in prompts.enumerated() {
            let a = try first.generate(prompt: prompt, options: options)
            let b = try second.generate(prompt: prompt, options: options)
            XCTAssertEqual(a.tokens, b.tokens, "prompt \(n)")
            var plainOptions = options
            plainOptions.speculative = nil
            XCTAssertEqual(a.tokens, try plain.generate(prompt: prompt, options: plainOptions).tokens, "prompt \(n) against plain sampling")
            XCTAssertLessThanOrEqual(a.tokens.count, 40)
            accepted += a.speculative?.accepted ?? 0
        }
        XCTAssertGreaterThan(accepted, 0, "no draft was accepted: the test proves nothing")
    }

    /// The same model as its own draft (its one-token steps against the verification batch):
    /// identical answers, and nearly every draft token accepted.
    func testDraftModelGivesTheGreedyAnswer() throws {
        let plain = try generator(), fast = try generator()
        let model = try XCTUnwrap(Self.model)
        try fast.attachDraft(session: try model.makeSession(contextLength: 1024, pool: fast.session.pool))
        let prompts = Array(try self.prompts(model).enumerated().filter { $0.offset % 5 != 4 }.map(\.element))
        XCTAssertGreaterThanOrEqual(prompts.count, 40)
        var options = greedy
        options.maxTokens = 32
        let stats = try checkIdentical(SpeculativeOptions(source: .draftModel, draftMax: 6, draftPMin: 0), options: options,
                                       plain: plain, fast: fast, prompts: prompts)
        XCTAssertGreaterThan(stats.acceptanceRate, 0.9, "\(stats)")
        // With p-min the draft stops at uncertain tokens: fewer drafts, same answers.
        let cautious = try checkIdentical(SpeculativeOptions(source: .draftModel, draftMax: 6, draftPMin: 0.9), options: options,
                                          plain: plain, fast: fast, prompts: Array(prompts.prefix(10)))
        XCTAssertGreaterThan(cautious.plainSteps, 0, "\(cautious)")
    }

    /// Near the end of the context drafts shrink, and a context shift still happens at the
    /// same token as without drafts.
    func testContextEndAndContextShift() throws {
        let plain = try generator(context: 96), fast = try generator(context: 96)
        let prompt = try chat(plain.model, "Repeat this sentence exactly: \(Self.passages[1]) \(Self.passages[4])")
        var options = greedy
        options.maxTokens = 200
        options.stopAtEndOfGeneration = false
        try checkIdentical(.promptLookup(), options: options, plain: plain, fast: fast, prompts: [prompt])
        options.contextShift = ContextShift(keep: 4)
        try checkIdentical(.promptLookup(), options: options, plain: plain, fast: fast, prompts: [prompt])
    }

    func testMissingAndIncompatibleDraftModelsAreRefused() throws {
        let g = try generator()
        var options = greedy
        options.speculative = SpeculativeOptions(source: .draftModel)
        XCTAssertThrowsError(try g.generate(prompt: [1, 2, 3], options: options)) {
            XCTAssertEqual($0 as? SpeculativeError, .noDraftModel)
        }
        options.speculative = .promptLookup(draftMax: 0)
        XCTAssertThrowsError(try g.generate(prompt: [1, 2, 3], options: options)) {
            XCTAssertTrue("\($0)".contains("--draft-max"), "\($0)")
        }
        let qwen = try LanguageModel(path: ModelStore().resolve("qwen2.5-0.5b", progress: .silent))
        XCTAssertThrowsError(try g.attachDraft(session: try qwen.makeSession(contextLength: 64))) { error in
            guard case .incompatibleDraft(let reason)? = error as? SpeculativeError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("vocabularies") || reason.contains("tokenizers"), reason)
        }
        XCTAssertNil(g.draft)
    }
}
