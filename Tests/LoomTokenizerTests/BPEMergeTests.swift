import Foundation
import XCTest
@testable import LoomTokenizer

final class BPEMergeTests: XCTestCase {
    /// The quadratic scan (short words) and the heap (long words) must merge identically.
    func testScanAndHeapAgree() throws {
        let tokenizer = try SharedTokenizers.qwen()
        var rng = SystemRandomNumberGenerator()
        let pieces = ["the", "ing", " ", "a", "b", "ab", "tion", "é", "中", "\n", "0", "ll", "e", "s"]
        for _ in 0 ..< 300 {
            var text = ""
            for _ in 0 ..< Int.random(in: 1 ... 40, using: &rng) { text += pieces.randomElement(using: &rng)! }
            let syms = Array(text.utf8).map { tokenizer.byteSymbol[Int($0)] }
            var scan = BPEMerge(), heap = BPEMerge()
            var a = syms, b = syms
            let na = scan.merge(&a, count: a.count, pairs: tokenizer.pairs)
            let nb = heap.mergeWithHeap(&b, count: b.count, pairs: tokenizer.pairs)
            XCTAssertEqual(Array(a[..<na]), Array(b[..<nb]), describe(text))
        }
    }

    /// A 5 000-letter word and a 200 000-letter run: correct (decodes back) and not quadratic.
    func testLongWords() throws {
        let tokenizer = try SharedTokenizers.smol()
        var generator = SplitMix(seed: 11)
        let word = String((0 ..< 5000).map { _ in Character(Unicode.Scalar(UInt8(97 + generator.next() % 26))) })
        let run = String(repeating: "ab", count: 100_000)
        for text in [word, run] {
            let start = Date()
            let ids = tokenizer.encode(text)
            let seconds = Date().timeIntervalSince(start)
            XCTAssertSameBytes(tokenizer.decode(ids), text)
            XCTAssertLessThan(seconds, 5, "a \(text.count)-letter word took \(seconds) s")
        }
    }
}

/// Deterministic pseudo-random numbers for reproducible test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
