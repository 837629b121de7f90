import Foundation
import XCTest
@testable import LoomGeneration

/// The pushdown matcher against independent references on many random strings: regular
/// grammars against the same language as an `NSRegularExpression`, context-free ones against
/// hand-written recognisers. Strings are drawn both uniformly from a small alphabet and as
/// mutations of sentences, so that both members and near-misses are common.
final class GrammarMatcherTests: XCTestCase {
    struct Case {
        let gbnf: String
        let regex: String
        let alphabet: [String]
        let seeds: [String]
    }

    static let regularCases: [Case] = [
        Case(gbnf: #"root ::= "a" | "b""#, regex: "a|b", alphabet: ["a", "b", "c"], seeds: ["a"]),
        Case(gbnf: #"root ::= [0-9]+ ("." [0-9]+)?"#, regex: #"[0-9]+(\.[0-9]+)?"#, alphabet: ["1", "0", ".", "x"], seeds: ["10.5"]),
        Case(gbnf: #"root ::= "ab"* "c"? [^a-c]{2,3}"#, regex: "(ab)*c?[^a-c]{2,3}", alphabet: ["a", "b", "c", "d", "é"],
             seeds: ["ababcdd", "ddd"]),
        Case(gbnf: "root ::= x{0,2} \"-\" x{3}\nx ::= [a-b] | \"zz\"", regex: "([a-b]|zz){0,2}-([a-b]|zz){3}",
             alphabet: ["a", "b", "z", "-"], seeds: ["a-abzz", "zzb-aaa"]),
        Case(gbnf: "root ::= (\"yes\" | \"no\" | \"maybe\") \"!\"{1,}\n", regex: "(yes|no|maybe)!+",
             alphabet: ["y", "e", "s", "n", "o", "m", "a", "b", "!"], seeds: ["yes!", "maybe!!"]),
        Case(gbnf: #"root ::= [a-zA-Z_] [a-zA-Z0-9_]{0,5} ("é" | "€" | "😀")?"#, regex: "[a-zA-Z_][a-zA-Z0-9_]{0,5}(é|€|😀)?",
             alphabet: ["a", "Z", "_", "9", "é", "€", "😀", " "], seeds: ["ab€", "_9😀"]),
        Case(gbnf: #"root ::= . . "\x41" [\x30-\x39\-]"#, regex: "[\\s\\S][\\s\\S]A[0-9\\-]", alphabet: ["A", "-", "5", "é", "x"],
             seeds: ["xéA-"]),
        Case(gbnf: "root ::= item (\",\" item)*\nitem ::= \"\\\"\" [^\"]* \"\\\"\"", regex: "\"[^\"]*\"(,\"[^\"]*\")*",
             alphabet: ["\"", ",", "a", "é"], seeds: ["\"a\",\"\""]),
    ]

    func testRegularGrammarsAgainstRegex() throws {
        var seedRng = Xoshiro256StarStar(seed: 7)
        for c in Self.regularCases {
            let grammar = try Grammar(gbnf: c.gbnf)
            let matcher = GrammarMatcher(grammar: grammar)
            let regex = try NSRegularExpression(pattern: "^(?:" + c.regex + ")$")
            func reference(_ s: String) -> Bool {
                regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
            }
            var members = 0
            for s in randomStrings(c.alphabet, seeds: c.seeds, count: 1500, rng: &seedRng) {
                let expected = reference(s)
                if expected { members += 1 }
                XCTAssertEqual(matcher.matches(s), expected, "grammar \(c.gbnf) on \(s.debugDescription)")
                // Every prefix of a member is accepted as a prefix.
                if expected {
                    for cut in 0...s.utf8.count {
                        XCTAssertTrue(matcher.accepts(Array(s.utf8.prefix(cut))), "prefix \(cut) of \(s.debugDescription)")
                    }
                }
            }
            // Sentences from random walks over the grammar are members by the regex too.
            var walks = 0
            for _ in 0..<100 {
                guard let s = JSONSchemaGrammarTests.randomSentence(grammar, rng: &seedRng) else { continue }
                walks += 1
                XCTAssertTrue(reference(s), "grammar \(c.gbnf) generated \(s.debugDescription)")
            }
            XCTAssertGreaterThan(walks, 50, c.gbnf)
            XCTAssertGreaterThan(members + walks, 50, "too few members drawn for \(c.gbnf)")
        }
    }

    /// Balanced brackets of two kinds, against a stack recogniser.
    func testContextFreeGrammarAgainstRecogniser() throws {
        let grammar = try Grammar(gbnf: """
        root ::= item*
        item ::= "(" root ")" | "[" root "]" | "x"
        """)
        let matcher = GrammarMatcher(grammar: grammar)
        func reference(_ s: String) -> Bool {
            var stack: [Character] = []
            for ch in s {
                switch ch {
                case "(", "[": stack.append(ch)
                case ")": if stack.popLast() != "(" { return false }
                case "]": if stack.popLast() != "[" { return false }
                case "x": break
                default: return false
                }
            }
            return stack.isEmpty
        }
        func viablePrefix(_ s: String) -> Bool {
            var stack: [Character] = []
            for ch in s {
                switch ch {
                case "(", "[": stack.append(ch)
                case ")": if stack.popLast() != "(" { return false }
                case "]": if stack.popLast() != "[" { return false }
                case "x": break
                default: return false
                }
            }
            return true
        }
        var rng = Xoshiro256StarStar(seed: 11)
        var members = 0
        for s in randomStrings(["(", ")", "[", "]", "x", "y"], seeds: ["([x])x", "[[]]()"], count: 3000, rng: &rng) {
            let expected = reference(s)
            if expected { members += 1 }
            XCTAssertEqual(matcher.matches(s), expected, s)
            XCTAssertEqual(matcher.accepts(Array(s.utf8)), viablePrefix(s), "prefix \(s)")
        }
        XCTAssertGreaterThan(members, 50)
    }

    /// `a^n b^n` (not regular), with a tiny backtracking matcher written over the same rules.
    func testAnBnAgainstBacktracking() throws {
        let matcher = GrammarMatcher(grammar: try Grammar(gbnf: "root ::= \"a\" root \"b\" | \"ab\" \"c\"?"))
        // The language: a^n b^n, optionally with a "c" right after the innermost "ab".
        func reference(_ s: [Character], _ i: Int) -> [Int] {
            // Returns every end index a derivation of root starting at i can reach.
            var ends: [Int] = []
            if i < s.count, s[i] == "a" {
                for mid in reference(s, i + 1) where mid < s.count && s[mid] == "b" { ends.append(mid + 1) }
            }
            if i + 1 < s.count, s[i] == "a", s[i + 1] == "b" {
                ends.append(i + 2)
                if i + 2 < s.count, s[i + 2] == "c" { ends.append(i + 3) }
            }
            return ends
        }
        var rng = Xoshiro256StarStar(seed: 5)
        var members = 0
        for s in randomStrings(["a", "b", "c"], seeds: ["aabb", "aaabcbb"], count: 2000, rng: &rng) {
            let chars = Array(s)
            let expected = reference(chars, 0).contains(chars.count)
            if expected { members += 1 }
            XCTAssertEqual(matcher.matches(s), expected, s)
        }
        XCTAssertGreaterThan(members, 20)
    }

    func testPartialCharactersAndInvalidUTF8() throws {
        var matcher = GrammarMatcher(grammar: try Grammar(gbnf: #"root ::= [a-z] "é" [€-€]"#))
        XCTAssertTrue(matcher.accept([0x61, 0xC3]))  // "a" and half of "é"
        XCTAssertFalse(matcher.canEnd)
        XCTAssertFalse(matcher.accepts([0xA8]))      // "è" ≠ "é"
        XCTAssertTrue(matcher.accept([0xA9, 0xE2]))
        XCTAssertFalse(matcher.accepts([0x82, 0xA0]))  // U+20A0 is not "€" (U+20AC)
        XCTAssertTrue(matcher.accept([0x82, 0xAC]))
        XCTAssertTrue(matcher.canEnd)
        XCTAssertTrue(matcher.mustEnd)

        let any = GrammarMatcher(grammar: try Grammar(gbnf: "root ::= .*"))
        XCTAssertFalse(any.accepts([0xFF]))
        XCTAssertFalse(any.accepts([0x80]))
        XCTAssertFalse(any.accepts([0xC3, 0x41]))
        XCTAssertTrue(any.accepts([0xF0, 0x9F]))
        // Ill-formed sequences a UTF-8 decoder replaces with U+FFFD are never accepted, even
        // when their bits spell an allowed character (E0 80 A0 is an overlong space).
        let space = GrammarMatcher(grammar: try Grammar(gbnf: #"root ::= [ \t]*"#))
        XCTAssertTrue(space.matches(" \t "))
        for bad: [UInt8] in [[0xE0, 0x80, 0xA0], [0xC0, 0xA0], [0xF0, 0x80, 0x80, 0xA0]] {
            XCTAssertFalse(space.accepts(bad), "\(bad)")
        }
        // Nor the lead byte of an overlong form alone: no continuation could complete it.
        XCTAssertFalse(space.accepts([0xE0]))
        XCTAssertFalse(space.accepts([0xF0]))
        XCTAssertFalse(GrammarMatcher(grammar: try Grammar(gbnf: "root ::= [\\u0400-\\u07FF]")).accepts([0xE0]))
        XCTAssertTrue(GrammarMatcher(grammar: try Grammar(gbnf: "root ::= [\\u0400-\\u0800]")).accepts([0xE0]))
        for bad: [UInt8] in [[0xE0, 0x9F], [0xED, 0xA0], [0xF0, 0x8F], [0xF4, 0x90], [0xF5]] {
            XCTAssertFalse(any.accepts(bad), "\(bad)")
        }
        for good: [UInt8] in [[0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]] {
            XCTAssertTrue(any.matches(String(decoding: good, as: UTF8.self)), "\(good)")
            XCTAssertTrue(any.accepts(good), "\(good)")
        }
    }

    // MARK: - Random strings

    /// `count` strings: a third uniform over `alphabet` (length 0–8), the rest mutations
    /// (insert, delete, replace, duplicate a slice) of the seeds and earlier outputs.
    func randomStrings(_ alphabet: [String], seeds: [String], count: Int, rng: inout Xoshiro256StarStar) -> [String] {
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var pool = seeds
        var out: [String] = []
        for i in 0..<count {
            var s: [String]
            if i % 3 == 0 {
                s = (0..<pick(9)).map { _ in alphabet[pick(alphabet.count)] }
            } else {
                s = pool[pick(pool.count)].map { String($0) }
                for _ in 0..<(1 + pick(2)) {
                    switch pick(4) {
                    case 0: s.insert(alphabet[pick(alphabet.count)], at: pick(s.count + 1))
                    case 1: if !s.isEmpty { s.remove(at: pick(s.count)) }
                    case 2: if !s.isEmpty { s[pick(s.count)] = alphabet[pick(alphabet.count)] }
                    default:
                        if !s.isEmpty {
                            let a = pick(s.count)
                            let b = a + pick(s.count - a)
                            s.insert(contentsOf: s[a...b], at: b + 1)
                        }
                    }
                }
            }
            let text = s.joined()
            out.append(text)
            if text.count < 24 { pool.append(text) }
        }
        return out
    }
}
