import XCTest
@testable import LoomGeneration

final class StopSequenceMatcherTests: XCTestCase {
    /// Feeds `pieces`, returning each append's result and the final flush ("" if stopped).
    private func run(_ stops: [String], _ pieces: [String]) -> (emits: [String], stoppedAt: Int?, flushed: String, matched: String?) {
        var m = StopSequenceMatcher(stops: stops)
        var emits: [String] = []
        var stoppedAt: Int?
        for (i, piece) in pieces.enumerated() {
            let r = m.append(piece)
            emits.append(r.emit)
            if r.stopped && stoppedAt == nil { stoppedAt = i }
            if stoppedAt != nil { XCTAssertTrue(r.stopped) }
        }
        return (emits, stoppedAt, m.flush(), m.matchedStop)
    }

    func testNoStopsEmitsEverythingAtOnce() {
        let r = run([], ["Hello", " wor", "ld"])
        XCTAssertEqual(r.emits, ["Hello", " wor", "ld"])
        XCTAssertNil(r.stoppedAt)
        XCTAssertEqual(r.flushed, "")
        XCTAssertEqual(run([""], ["abc"]).emits, ["abc"])  // empty stops are ignored
    }

    func testStopInTheMiddleOfOnePiece() {
        let r = run(["<|end|>"], ["Hello world<|end|>more text", "ignored"])
        XCTAssertEqual(r.emits, ["Hello world", ""])
        XCTAssertEqual(r.stoppedAt, 0)
        XCTAssertEqual(r.flushed, "")
        XCTAssertEqual(r.matched, "<|end|>")
    }

    func testStopSpanningSeveralPieces() {
        let r = run(["<|end|>"], ["Hello <", "|e", "nd", "|> trailing"])
        XCTAssertEqual(r.emits, ["Hello ", "", "", ""])
        XCTAssertEqual(r.stoppedAt, 3)
    }

    func testHeldBackTextIsReleasedWhenItCannotStartAStop() {
        let r = run(["###"], ["a#", "#b", "c#", "#", "#tail"])
        XCTAssertEqual(r.emits, ["a", "##b", "c", "", ""])
        XCTAssertEqual(r.stoppedAt, 4)
        let partial = run(["</s>"], ["done</"])
        XCTAssertEqual(partial.emits, ["done"])
        XCTAssertNil(partial.stoppedAt)
        XCTAssertEqual(partial.flushed, "</")
    }

    func testSelfOverlappingStop() {
        XCTAssertEqual(run(["aab"], ["aaab"]).emits, ["a"])
        XCTAssertEqual(run(["aab"], ["a", "a", "a", "b"]).emits, ["", "", "a", ""])
        XCTAssertEqual(run(["abab"], ["aba", "bab"]).emits, ["", ""])
        XCTAssertEqual(run(["abab"], ["ab", "aabab"]).emits, ["", "aba"])
        XCTAssertEqual(run(["abab"], ["aba", "c"]).emits, ["", "abac"])
    }

    func testOverlappingStops() {
        // The stream ends as soon as "bc" completes; "abcd" could only complete later.
        let r = run(["abcd", "bc"], ["abcd"])
        XCTAssertEqual(r.emits, ["a"])
        XCTAssertEqual(r.matched, "bc")
        // Both complete at the same scalar: the longer one (earlier start) is cut.
        let same = run(["yz", "xyz"], ["ax", "yz!"])
        XCTAssertEqual(same.emits, ["a", ""])
        XCTAssertEqual(same.matched, "xyz")
        // Hold-back is the longest candidate over all stops.
        XCTAssertEqual(run(["abc", "bd"], ["xab", "d"]).emits, ["x", "a"])
        XCTAssertEqual(run(["abc", "bd"], ["xab", "e"]).emits, ["x", "abe"])
    }

    func testUnicodeScalarsNotCharacters() {
        // A decomposed é contains the scalar "e": the stop matches inside the grapheme.
        XCTAssertEqual(run(["e"], ["caf", "e\u{301}!"]).emits, ["caf", ""])
        // No normalisation: a precomposed stop does not match the decomposed text.
        let r = run(["\u{E9}"], ["cafe\u{301}"])
        XCTAssertNil(r.stoppedAt)
        XCTAssertEqual(r.emits.joined() + r.flushed, "cafe\u{301}")
        // A combining mark arriving later does not change what was held back.
        XCTAssertEqual(run(["e\u{301}x"], ["cafe", "\u{301}", "y"]).emits, ["caf", "", "e\u{301}y"])
        // Multi-scalar emoji stop split between pieces.
        let wave = run(["👋🏽"], ["hi 👋", "🏽 there"])
        XCTAssertEqual(wave.emits, ["hi ", ""])
        XCTAssertEqual(wave.stoppedAt, 1)
        XCTAssertEqual(run(["👋🏽"], ["hi 👋", "!"]).emits, ["hi ", "👋!"])
    }

    func testAfterStopNothingMoreIsEmitted() {
        var m = StopSequenceMatcher(stops: ["STOP"])
        XCTAssertEqual(m.append("go STOP").emit, "go ")
        XCTAssertTrue(m.isStopped)
        XCTAssertTrue(m.append("more").stopped)
        XCTAssertEqual(m.append("more").emit, "")
        XCTAssertEqual(m.flush(), "")
    }

    // MARK: Randomised against a naive reference

    /// Naive reference: scan end positions in order; the first position where any stop ends
    /// stops the text, cutting before the longest stop ending there. Returns (cut, end).
    private func reference(_ text: [Unicode.Scalar], _ stops: [[Unicode.Scalar]]) -> (cut: Int, end: Int)? {
        guard !text.isEmpty else { return nil }
        for end in 1...text.count {
            let lengths = stops.filter { !$0.isEmpty && $0.count <= end && Array(text[(end - $0.count)..<end]) == $0 }.map(\.count)
            if let longest = lengths.max() { return (end - longest, end) }
        }
        return nil
    }

    /// Longest suffix of `text` that is a proper prefix of some stop.
    private func holdBack(_ text: [Unicode.Scalar], _ stops: [[Unicode.Scalar]]) -> Int {
        var best = 0
        for stop in stops where !stop.isEmpty {
            for l in stride(from: min(stop.count - 1, text.count), to: 0, by: -1)
            where Array(text.suffix(l)) == Array(stop.prefix(l)) {
                best = max(best, l)
                break
            }
        }
        return best
    }

    func testRandomSplitsAgainstNaiveReference() {
        let alphabet: [Unicode.Scalar] = ["a", "b", "c", "e", "\u{301}", "\u{E9}", "👋", "\u{1F3FD}"]
        var rng = Xoshiro256StarStar(seed: 2024)
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func word(_ length: Int) -> [Unicode.Scalar] {
            // A skewed alphabet (mostly a/b) makes partial and overlapping matches common.
            (0..<length).map { _ in below(3) > 0 ? alphabet[below(2)] : alphabet[below(alphabet.count)] }
        }
        func string(_ s: ArraySlice<Unicode.Scalar>) -> String {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s)
            return String(v)
        }
        var stoppedCases = 0
        for _ in 0..<3000 {
            let stops = (0..<(1 + below(3))).map { _ in word(1 + below(4)) }
            let text = word(below(40))
            var cuts = Set((0..<below(8)).map { _ in below(text.count + 1) })
            cuts.insert(text.count)
            let bounds = [0] + cuts.sorted()
            let pieces = zip(bounds, bounds.dropFirst()).map { text[$0..<$1] }

            var m = StopSequenceMatcher(stops: stops.map { string($0[...]) })
            let expected = reference(text, stops)
            var emitted = ""
            var consumed = 0
            var stopped = false
            for piece in pieces {
                let r = m.append(string(piece))
                emitted += r.emit
                consumed += piece.count
                if let e = expected, e.end <= consumed {
                    XCTAssertTrue(r.stopped, "stops \(stops) text \(text)")
                    stopped = true
                    break
                }
                XCTAssertFalse(r.stopped, "stops \(stops) text \(text)")
                // Everything that can no longer start a stop has been shown, nothing else.
                let shown = consumed - holdBack(Array(text[..<consumed]), stops)
                XCTAssertEqual(Array(emitted.unicodeScalars), Array(text[..<shown]), "stops \(stops) text \(text)")
            }
            if let e = expected {
                stoppedCases += 1
                XCTAssertTrue(stopped)
                XCTAssertEqual(Array(emitted.unicodeScalars), Array(text[..<e.cut]), "stops \(stops) text \(text)")
                XCTAssertEqual(m.flush(), "")
            } else {
                emitted += m.flush()
                XCTAssertEqual(Array(emitted.unicodeScalars), text)
            }
        }
        XCTAssertGreaterThan(stoppedCases, 500, "the generator should produce many stopping cases")
    }
}
