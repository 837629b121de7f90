import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomGeneration

/// `--prompt-cache` (llama.cpp's `llama_state_save_file`): a prompt's evaluated state saved
/// and loaded by another session gives, bit for bit, what evaluating the prompt gives, and a
/// cache that does not fit is a named error that leaves the session as it was.
final class PromptCacheFileTests: XCTestCase {
    var model: LanguageModel { get throws { try XCTUnwrap(GeneratorTests.model, "the default model could not be loaded") } }

    func temporaryURL() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-prompt-cache-\(UUID().uuidString).bin")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    var prompt: [Int] {
        get throws { try model.tokenizer.encode(String(repeating: ContextShiftTests.text + " ", count: 12)) }
    }

    func greedy(_ generator: Generator, _ prompt: [Int]) throws -> (GenerationResult, [UInt32]) {
        var options = GenerationOptions(maxTokens: 12, stopAtEndOfGeneration: false)
        options.sampling = .greedy
        options.topLogprobs = 3
        var logprobs: [UInt32] = []
        let result = try generator.generate(prompt: prompt, options: options) { token in
            logprobs += [token.logprob?.logprob.bitPattern ?? 0] + token.topLogprobs.map(\.logprob.bitPattern)
            return true
        }
        return (result, logprobs)
    }

    func testALoadedPromptGivesExactlyTheColdResult() throws {
        let model = try self.model, prompt = try self.prompt
        let url = temporaryURL()
        let cold = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        let (coldResult, coldLogprobs) = try greedy(cold, prompt)
        try cold.savePromptCache(to: url, tokens: cold.cachedPrefixLength(of: prompt))
        XCTAssertEqual(cold.cachedPrefixLength(of: prompt), prompt.count)

        let warm = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        XCTAssertEqual(try warm.loadPromptCache(from: url), prompt.count)
        XCTAssertEqual(warm.session.position, prompt.count)
        XCTAssertEqual(warm.cachedTokens, prompt)
        XCTAssertGreaterThan(prompt.count, 512)
        // Everything but the last two tokens is reused, across the 512-token chunk boundary:
        // prompt rows get the same logits however the prompt is chunked (batch invariance).
        XCTAssertEqual(warm.reusablePrefixLength(of: prompt), prompt.count - 2)
        let (warmResult, warmLogprobs) = try greedy(warm, prompt)
        XCTAssertEqual(warmResult.tokens, coldResult.tokens)
        XCTAssertEqual(warmLogprobs, coldLogprobs, "bit-identical log-probabilities")
        XCTAssertGreaterThan(coldLogprobs.count, 12)

        // A longer prompt that starts with the cached one reuses all of it.
        let longer = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        try longer.loadPromptCache(from: url)
        let extended = prompt + model.tokenizer.encode(" And then?", addSpecial: false)
        XCTAssertEqual(longer.cachedPrefixLength(of: extended), prompt.count)
        let (extendedResult, extendedLogprobs) = try greedy(longer, extended)
        let fresh = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        let (freshResult, freshLogprobs) = try greedy(fresh, extended)
        XCTAssertEqual(extendedResult.tokens, freshResult.tokens)
        XCTAssertEqual(extendedLogprobs, freshLogprobs, "bit-identical after a prompt that extends the cached one")
    }

    func testCachesThatDoNotFitAreNamedErrors() throws {
        let model = try self.model, prompt = try self.prompt
        let url = temporaryURL()
        let saver = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        _ = try greedy(saver, prompt)
        try saver.savePromptCache(to: url, tokens: prompt.count)

        func load(_ generator: Generator, _ url: URL) -> SessionStateError? {
            do { try generator.loadPromptCache(from: url); return nil } catch { return error as? SessionStateError }
        }
        // Another KV cache type.
        let q8 = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2),
                                                        cacheTypes: KVCacheTypes(keys: .q8_0, values: .q8_0)))
        guard case .mismatch(_, let field, _, _)? = load(q8, url) else { return XCTFail("q8_0 session loaded an f16 cache") }
        XCTAssertEqual(field, "KV cache types")
        XCTAssertEqual(q8.session.position, 0, "a failed load leaves the session as it was")
        // A context too short for it.
        let short = Generator(session: try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2)))
        guard case .tooLong(_, prompt.count, 64)? = load(short, url) else { return XCTFail("a 64-token context loaded \(prompt.count) tokens") }
        // Truncated, with trailing bytes, and not a cache at all.
        let bytes = try Data(contentsOf: url)
        let damaged = temporaryURL()
        try bytes.prefix(bytes.count - 100).write(to: damaged)
        let fresh = Generator(session: try model.makeSession(contextLength: 1024, pool: ThreadPool(threadCount: 2)))
        guard case .truncated(_, bytes.count, bytes.count - 100)? = load(fresh, damaged) else { return XCTFail("truncated cache loaded") }
        try (bytes + Data([1, 2, 3])).write(to: damaged)
        guard case .notAStateFile? = load(fresh, damaged) else { return XCTFail("cache with trailing bytes loaded") }
        try Data("{\"not\": \"a cache\"}".utf8).write(to: damaged)
        guard case .notAStateFile? = load(fresh, damaged) else { return XCTFail("JSON loaded as a cache") }
        XCTAssertEqual(fresh.session.position, 0)
        XCTAssertTrue(fresh.cachedTokens.isEmpty)
        XCTAssertTrue("\(SessionStateError.truncated(path: "p", expectedBytes: 9, actualBytes: 3))".contains("truncated"))
    }
}
