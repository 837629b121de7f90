import XCTest
import LoomTokenizer
@testable import LoomGeneration

/// The per-token rules of ``GenerationState`` without a model: a byte-level vocabulary of a few
/// tokens, and one-hot logits so that greedy sampling picks a scripted token at every step.
final class GenerationStateTests: XCTestCase {
    // GPT-2 byte-level spellings: "Ġ" is the space byte, "Ã" and "©" are the bytes C3 and A9
    // (the two halves of "é").
    static let vocabulary = ["a", "b", "c", "Ġ", "Ã", "©", "<eos>"]
    static let (a, b, c, space, e1, e2, eos) = (0, 1, 2, 3, 4, 5, 6)

    static let tokenizer: BPETokenizer = {
        let types = vocabulary.map { $0 == "<eos>" ? TokenType.control.rawValue : TokenType.normal.rawValue }
        return try! BPETokenizer(tokens: vocabulary, tokenTypes: types, merges: [], preTokenizer: .gpt2,
                                 bosID: nil, eosID: eos, eotID: nil, addBOS: false, addEOS: false, ignoreMerges: false)
    }()

    /// Logits under which greedy sampling picks `id`.
    func logits(choosing id: Int) -> [Float] {
        var l = [Float](repeating: 0, count: Self.vocabulary.count)
        l[id] = 5
        return l
    }

    func options(maxTokens: Int = 100, stops: [String] = [], topLogprobs: Int = 0) -> GenerationOptions {
        GenerationOptions(maxTokens: maxTokens, sampling: .greedy, stopStrings: stops, topLogprobs: topLogprobs)
    }

    func makeState(_ options: GenerationOptions, prompt: [Int] = [0, 1], capacity: Int = 64) throws -> GenerationState {
        try GenerationState(prompt: prompt, options: options, tokenizer: Self.tokenizer, capacity: capacity)
    }

    /// Feeds the scripted tokens one step each; returns every step's token text and reason.
    func run(_ state: inout GenerationState, _ script: [Int]) -> [(text: String?, finish: FinishReason?)] {
        var out: [(String?, FinishReason?)] = []
        for id in script {
            let step = state.advance(logits: logits(choosing: id))
            if let token = step.token { XCTAssertEqual(token.id, id) }
            out.append((step.token?.text, step.finishReason))
            // The token to evaluate next is the one just sampled, until the end.
            XCTAssertEqual(state.tokenToEvaluate, step.finishReason == nil ? id : nil)
        }
        return out
    }

    func testStopStringSpanningTokensIsNeverEmitted() throws {
        var state = try makeState(options(stops: ["bc"]))
        let steps = run(&state, [Self.a, Self.b, Self.c])
        XCTAssertEqual(steps.map(\.text), ["a", "", ""], "\"b\" is held back, then found to start the stop")
        XCTAssertEqual(steps.map(\.finish), [nil, nil, .stop])
        XCTAssertEqual(state.finishReason, .stop)
        XCTAssertEqual(Array(state.generatedTokens), [Self.a, Self.b, Self.c])
    }

    func testHeldBackPrefixIsReleasedWhenItStopsMatching() throws {
        var state = try makeState(options(stops: ["bx"]))
        let steps = run(&state, [Self.b, Self.c, Self.space])
        XCTAssertEqual(steps.map(\.text), ["", "bc", " "])
        XCTAssertEqual(steps.map(\.finish), [nil, nil, nil])
    }

    func testMultiByteCharacterWaitsForItsLastByte() throws {
        var state = try makeState(options())
        XCTAssertEqual(run(&state, [Self.e1, Self.e2]).map(\.text), ["", "é"])
    }

    func testEndOfGenerationTokenCarriesPendingTextAndIsNotPartOfTheAnswer() throws {
        var state = try makeState(options(stops: ["bc"]))
        let steps = run(&state, [Self.a, Self.b, Self.eos])
        XCTAssertEqual(steps.map(\.text), ["a", "", "b"])
        XCTAssertEqual(steps.map(\.finish), [nil, nil, .stop])
        XCTAssertEqual(Array(state.generatedTokens), [Self.a, Self.b])
        XCTAssertEqual(state.generatedCount, 2)

        // The end token itself is marked as such.
        var other = try makeState(options())
        let step = other.advance(logits: logits(choosing: Self.eos))
        XCTAssertEqual(step.token?.isEndOfGeneration, true)
        XCTAssertEqual(step.token?.text, "")
        XCTAssertEqual(step.finishReason, .stop)
    }

    func testEndOfGenerationTokenIsOrdinaryWhenNotStopping() throws {
        var o = options()
        o.stopAtEndOfGeneration = false
        var state = try makeState(o)
        let steps = run(&state, [Self.eos, Self.a])
        XCTAssertEqual(steps.map(\.text), ["", "a"], "the special token decodes to nothing")
        XCTAssertEqual(steps.map(\.finish), [nil, nil])
        XCTAssertEqual(Array(state.generatedTokens), [Self.eos, Self.a])
    }

    func testMaxTokensEndsWithLengthAndFlushesHeldBackText() throws {
        var state = try makeState(options(maxTokens: 2, stops: ["bc"]))
        let steps = run(&state, [Self.a, Self.b])
        XCTAssertEqual(steps.map(\.text), ["a", "b"], "the held-back \"b\" can no longer start a stop")
        XCTAssertEqual(steps.map(\.finish), [nil, .length])
        // Further calls change nothing.
        let after = state.advance(logits: logits(choosing: Self.c))
        XCTAssertNil(after.token)
        XCTAssertEqual(after.finishReason, .length)
        XCTAssertEqual(state.generatedCount, 2)

        var none = try makeState(options(maxTokens: 0))
        let step = none.advance(logits: logits(choosing: Self.a))
        XCTAssertNil(step.token, "max tokens 0 samples nothing")
        XCTAssertEqual(step.finishReason, .length)
    }

    func testPromptPlusAnswerNeverExceedTheContext() throws {
        var state = try makeState(options(maxTokens: 100), prompt: [Self.a, Self.b, Self.c], capacity: 5)
        let steps = run(&state, [Self.a, Self.b])
        XCTAssertEqual(steps.map(\.finish), [nil, .length])
        XCTAssertEqual(state.history.count, 5)

        var full = try makeState(options(), prompt: [Self.a, Self.b], capacity: 2)
        let step = full.advance(logits: logits(choosing: Self.a))
        XCTAssertNil(step.token, "a prompt that fills the context leaves no room for a token")
        XCTAssertEqual(step.finishReason, .length)
    }

    func testCancel() throws {
        var state = try makeState(options())
        _ = run(&state, [Self.a])
        XCTAssertEqual(state.tokenToEvaluate, Self.a)
        state.cancel()
        XCTAssertEqual(state.finishReason, .cancelled)
        XCTAssertNil(state.tokenToEvaluate)
        XCTAssertNil(state.advance(logits: logits(choosing: Self.b)).token)
        XCTAssertEqual(state.generatedCount, 1)

        // An answer that ended itself keeps its reason.
        var stopped = try makeState(options(stops: ["a"]))
        _ = run(&stopped, [Self.a])
        stopped.cancel()
        XCTAssertEqual(stopped.finishReason, .stop)

        // Declining the token that reached the limit reports the caller's decision.
        var limited = try makeState(options(maxTokens: 1))
        _ = run(&limited, [Self.a])
        XCTAssertEqual(limited.finishReason, .length)
        limited.cancel()
        XCTAssertEqual(limited.finishReason, .cancelled)
    }

    func testLogprobsOfTheChosenTokenAndItsAlternatives() throws {
        var state = try makeState(options(topLogprobs: 3))
        var l = logits(choosing: Self.c)
        l[Self.a] = 2
        let token = try XCTUnwrap(state.advance(logits: l).token)
        let expected = Logprobs.top(l, chosen: Self.c, n: 3)
        XCTAssertEqual(token.logprob, expected.chosen)
        XCTAssertEqual(token.topLogprobs, expected.top)
        XCTAssertEqual(token.topLogprobs.map(\.id), [Self.c, Self.a, Self.b])

        var without = try makeState(options())
        let plain = try XCTUnwrap(without.advance(logits: l).token)
        XCTAssertNil(plain.logprob)
        XCTAssertEqual(plain.topLogprobs, [])
    }

    func testInvalidRequestsAreRejectedUpFront() throws {
        XCTAssertThrowsError(try makeState(options(maxTokens: -1))) {
            XCTAssertEqual($0 as? GenerationError, .invalidParameter("max tokens must be ≥ 0, got -1"))
        }
        XCTAssertThrowsError(try makeState(options(), prompt: [])) {
            XCTAssertEqual($0 as? GenerationError, .emptyPrompt)
        }
        XCTAssertThrowsError(try makeState(options(), prompt: [0, 1, 2], capacity: 2)) {
            XCTAssertEqual($0 as? GenerationError, .promptTooLong(tokens: 3, context: 2))
        }
        var bad = options()
        bad.sampling.topP = 1.5
        XCTAssertThrowsError(try makeState(bad)) { XCTAssertEqual(($0 as? SamplingError)?.field, "topP") }
    }

    func testSameSeedSamplesTheSameTokens() throws {
        var o = options(maxTokens: 20)
        o.sampling = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 7)
        let flat = [Float](repeating: 0, count: Self.vocabulary.count - 1) + [-.infinity]  // never <eos>
        func sample() throws -> [Int] {
            var state = try makeState(o)
            while state.advance(logits: flat).finishReason == nil {}
            return Array(state.generatedTokens)
        }
        let first = try sample()
        XCTAssertEqual(first.count, 20)
        XCTAssertEqual(try sample(), first)
        XCTAssertGreaterThan(Set(first).count, 1, "a flat distribution should not repeat one token 20 times")
    }
}
