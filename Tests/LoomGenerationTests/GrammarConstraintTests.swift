import XCTest
import LoomTokenizer
@testable import LoomGeneration

/// Token masks from the vocabulary trie against a token-by-token check, and grammar-
/// constrained generation through ``GenerationState`` on random logits.
final class GrammarConstraintTests: XCTestCase {
    // GPT-2 byte-level spellings: "Ġ" is a space, "Ã"/"©" the two bytes of "é".
    static let vocabulary = ["a", "b", "c", "ab", "abc", "ba", "1", "2", "12", "{", "}", "\"", "\":", "Ġ", "Ġa",
                             "Ã", "©", "Ã©", "a}", "}Ġ", "<eos>", "<pad>", "x", "[", "]", ","]
    static let eos = vocabulary.firstIndex(of: "<eos>")!
    static let pad = vocabulary.firstIndex(of: "<pad>")!

    static let tokenizer: BPETokenizer = {
        let types = vocabulary.map { $0.hasPrefix("<") ? TokenType.control.rawValue : TokenType.normal.rawValue }
        return try! BPETokenizer(tokens: vocabulary, tokenTypes: types, merges: [], preTokenizer: .gpt2,
                                 bosID: nil, eosID: eos, eotID: nil, addBOS: false, addEOS: false, ignoreMerges: false)
    }()

    static let grammars = [
        #"root ::= "{" [a-c12]{1,4} "}""#,
        #"root ::= ("a" | "é")+ " "? "}""#,
        "root ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= \"\\\"\" [abé]* \"\\\"\" | [12]+",
        #"root ::= "x" | "ab" "c"* | "{" root "}""#,
    ]

    /// At every state of random walks, the trie's mask equals checking each token's bytes.
    func testTrieMaskEqualsTokenByTokenCheck() throws {
        var rng = Xoshiro256StarStar(seed: 3)
        for gbnf in Self.grammars {
            let grammar = try Grammar(gbnf: gbnf)
            for _ in 0..<40 {
                var constraint = GrammarConstraint(grammar: grammar, tokenizer: Self.tokenizer)
                for _ in 0..<12 {
                    let mask = constraint.allowedTokens()
                    let expected = (0..<Self.vocabulary.count).map { constraint.allows($0) }
                    XCTAssertEqual(mask, expected, "\(gbnf)")
                    XCTAssertFalse(mask[Self.pad], "a control token is never allowed")
                    XCTAssertEqual(mask[Self.eos], constraint.canEnd)
                    let choices = mask.indices.filter { mask[$0] && $0 != Self.eos }
                    guard !choices.isEmpty else { break }
                    XCTAssertTrue(constraint.accept(choices[Int(rng.next() % UInt64(choices.count))]))
                }
            }
        }
    }

    /// Sampled generation on random logits always yields a sentence of the grammar, and ends
    /// with `stop` at the end of generation or when nothing may follow.
    func testConstrainedGenerationFollowsGrammar() throws {
        var rng = Xoshiro256StarStar(seed: 9)
        for gbnf in Self.grammars {
            let grammar = try Grammar(gbnf: gbnf)
            let matcher = GrammarMatcher(grammar: grammar)
            var finished = 0
            for seed in 0..<60 {
                var sampling = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: UInt64(seed))
                if seed % 3 == 0 { sampling = .greedy }
                let options = GenerationOptions(maxTokens: 40, sampling: sampling, grammar: grammar)
                var state = try GenerationState(prompt: [0], options: options, tokenizer: Self.tokenizer, capacity: 100)
                var text = ""
                while true {
                    let logits = (0..<Self.vocabulary.count).map { _ in Float(rng.nextUnitDouble() * 8 - 4) }
                    let step = state.advance(logits: logits)
                    if let token = step.token { text += token.text }
                    if step.finishReason != nil { break }
                }
                XCTAssertTrue(matcher.accepts(Array(text.utf8)), "\(gbnf): \(text.debugDescription)")
                if state.finishReason == .stop {
                    finished += 1
                    XCTAssertTrue(matcher.matches(text), "\(gbnf): \(text.debugDescription) ended incomplete")
                }
                XCTAssertEqual(Self.tokenizer.decode(Array(state.generatedTokens)), text)
            }
            XCTAssertGreaterThan(finished, 10, gbnf)
        }
    }

    /// A grammar with nothing left to add ends generation without another sample.
    func testCompleteGrammarEndsGeneration() throws {
        let grammar = try Grammar(gbnf: #"root ::= "ab""#)
        let options = GenerationOptions(maxTokens: 10, sampling: .greedy, grammar: grammar)
        var state = try GenerationState(prompt: [0], options: options, tokenizer: Self.tokenizer, capacity: 100)
        var logits = [Float](repeating: 0, count: Self.vocabulary.count)
        logits[Self.vocabulary.firstIndex(of: "x")!] = 10  // the model wants "x": not allowed
        let first = state.advance(logits: logits)
        XCTAssertTrue(["a", "ab"].contains(first.token?.text ?? ""), "\(String(describing: first.token?.text))")
        var text = first.token?.text ?? ""
        while !state.isFinished {
            text += state.advance(logits: logits).token?.text ?? ""
        }
        XCTAssertEqual(text, "ab")
        XCTAssertEqual(state.finishReason, .stop)
    }
}
