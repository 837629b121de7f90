import Foundation
import LoomTokenizer

/// Builds needle-in-a-haystack contexts the way gkamradt's tester does
/// (gkamradt/LLMTest_NeedleInAHaystack, `needlehaystack/llm_needle_haystack_tester.py`): the
/// haystack's tokens (repeated until long enough) cut to a budget, the needle inserted at a
/// relative depth, moved back to just after the nearest sentence-ending '.' token.
public struct NeedleHaystack: Sendable {
    public let tokenizer: BPETokenizer
    /// The haystack tokens (the text repeated to cover `maxTokens`).
    public let tokens: [Int]

    /// Tokenises `text` and repeats it until it has at least `maxTokens` tokens.
    public init(text: String, tokenizer: BPETokenizer, maxTokens: Int) throws {
        let once = tokenizer.encode(text.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n", addSpecial: false, parseSpecial: false)
        guard once.count >= 16 else { throw EvalError.invalidParameter("the haystack text is too short (\(once.count) tokens)") }
        var all: [Int] = []
        while all.count < maxTokens { all += once }
        self.tokenizer = tokenizer
        self.tokens = all
    }

    /// The needle sentence for `number`.
    public static func needle(_ number: String) -> String { "The special magic number is \(number)." }

    /// The token index at which a needle goes for `depth` (0…1) in the first `count` tokens:
    /// `int(count·depth)`, then backwards until the previous token ends with '.', so the needle
    /// starts a sentence; depth 1 is the very end.
    public func insertionIndex(count: Int, depth: Double) -> Int {
        if depth >= 1 { return count }
        var index = Int(Double(count) * depth)
        while index > 0 && !tokenizer.decode([tokens[index - 1]]).hasSuffix(".") { index -= 1 }
        return index
    }

    /// The haystack text of `count` tokens with `needle` inserted at `depth`, and the needle's
    /// character offset (for checks).
    public func context(count: Int, depth: Double, needle: String) -> (text: String, insertion: Int) {
        let count = min(count, tokens.count)
        let index = insertionIndex(count: count, depth: depth)
        let before = tokenizer.decode(Array(tokens[0..<index]))
        let after = tokenizer.decode(Array(tokens[index..<count]))
        let separator = before.isEmpty || before.hasSuffix("\n") ? "" : " "
        let head = before + separator
        return (head + needle + " " + after.drop(while: { $0 == " " }), head.count)
    }

    /// The first run of exactly `digits` digits in `answer` equals `expected` (judge-free
    /// exact match; other digits around do not count as a match).
    public static func isCorrect(answer: String, expected: String) -> Bool {
        var runs: [String] = [], current = ""
        for c in answer {
            if c.isASCII && c.isNumber { current.append(c) } else if !current.isEmpty { runs.append(current); current = "" }
        }
        if !current.isEmpty { runs.append(current) }
        return runs.first == expected
    }
}
