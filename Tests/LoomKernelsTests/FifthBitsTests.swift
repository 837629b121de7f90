import XCTest
@testable import LoomKernels

/// The Q5 fifth-bit expansion (FifthBits.swift) against its definition — bit i of the word
/// as 0 or 16 in byte lane i — for the build's own path (the AVX-512 mask-register select of
/// LoomIntrinsics where available) and for the portable Swift forms, on edge and random words.
final class FifthBitsTests: XCTestCase {
    func words() -> [UInt32] {
        var rng = SplitMix64(seed: 0x5F1F7)
        var words: [UInt32] = [0, .max, 0x5555_5555, 0xAAAA_AAAA, 1, 1 << 31, 0x0000_FFFF, 0xFFFF_0000]
        for _ in 0..<500 { words.append(UInt32(truncatingIfNeeded: rng.next())) }
        return words
    }

    func definition(_ word: UInt32, lane: Int) -> UInt8 { (word >> UInt32(lane)) & 1 == 1 ? 16 : 0 }

    func testFifthBitsOfWordMatchDefinition() {
        for word in words() {
            for (name, bits) in [("build", fifthBitsOfWord(word)), ("portable", portableFifthBitsOfWord(word))] {
                for i in 0..<16 {
                    XCTAssertEqual(bits.low[i], definition(word, lane: i), "\(name) word \(word) lane \(i)")
                    XCTAssertEqual(bits.high[i], definition(word, lane: 16 + i), "\(name) word \(word) lane \(16 + i)")
                }
            }
        }
    }

    func testFifthBitsOfHalfWordMatchDefinition() {
        for word in words() {
            let half = UInt16(truncatingIfNeeded: word >> 7)
            for (name, bits) in [("build", fifthBits(half)), ("portable", portableFifthBits(half))] {
                for i in 0..<16 {
                    XCTAssertEqual(bits[i], definition(UInt32(half), lane: i), "\(name) bits \(half) lane \(i)")
                }
            }
        }
    }
}
