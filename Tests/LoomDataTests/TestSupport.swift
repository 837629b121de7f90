import Foundation
import XCTest

/// A fresh temporary folder, removed at the end of the test.
func temporaryFolder(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "loomdata-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func readLines(_ path: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n").map(String.init)
}

/// A deterministic generator (SplitMix64) so tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
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

/// Random prose from a vocabulary of `vocabulary` made-up words, with stop words mixed in.
func randomDocument(words: Int, vocabulary: Int = 5000, rng: inout SeededGenerator) -> [String] {
    let stops = ["the", "of", "and", "to", "with", "that"]
    return (0 ..< words).map { _ in
        if Int.random(in: 0 ..< 5, using: &rng) == 0 { return stops.randomElement(using: &rng)! }
        return "w\(Int.random(in: 0 ..< vocabulary, using: &rng))"
    }
}
