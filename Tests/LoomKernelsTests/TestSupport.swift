import Foundation
import XCTest
@testable import LoomKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic 64-bit generator (SplitMix64) so every random test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E1E5_9B09
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum TestData {
    /// Byte offsets of the fp16 scale/min fields inside one block (llama.cpp `ggml/src/ggml-common.h`).
    static func halfFieldOffsets(_ type: GGMLType) -> [Int] {
        switch type {
        case .f32, .f16, .bf16, .i8: return []
        case .q4_0, .q5_0, .q8_0: return [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        case .tq1_0: return [52]
        case .tq2_0: return [64]
        }
    }

    /// A random fp16 scale: usually ±[1e-3, 1e-1]; sometimes zero or a subnormal so those
    /// decode paths are exercised too.
    static func randomScale<G: RandomNumberGenerator>(_ rng: inout G) -> UInt16 {
        switch Int.random(in: 0..<16, using: &rng) {
        case 0: return 0
        case 1: return UInt16.random(in: 1..<0x400, using: &rng) | (Bool.random(using: &rng) ? 0x8000 : 0)
        default:
            let magnitude = Float(pow(10.0, Double.random(in: -3 ... -1, using: &rng)))
            return floatToHalf(Bool.random(using: &rng) ? magnitude : -magnitude)
        }
    }

    /// Bytes of a random row of `count` elements: random block bytes with sane fp16 scales
    /// for the quantised types; random finite values for F32/F16/BF16.
    static func randomRow<G: RandomNumberGenerator>(_ type: GGMLType, count: Int, _ rng: inout G) -> [UInt8] {
        switch type {
        case .f32:
            return randomFloats(count, &rng).withUnsafeBytes { Array($0) }
        case .f16:
            return randomFloats(count, &rng).map { floatToHalf($0) }.withUnsafeBytes { Array($0) }
        case .bf16:
            return randomFloats(count, &rng).map { floatToBF16($0) }.withUnsafeBytes { Array($0) }
        default:
            var bytes = (0..<type.byteCount(elements: count)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for block in 0..<count / type.blockSize {
                for offset in halfFieldOffsets(type) {
                    let h = randomScale(&rng)
                    bytes[block * type.blockBytes + offset] = UInt8(truncatingIfNeeded: h)
                    bytes[block * type.blockBytes + offset + 1] = UInt8(truncatingIfNeeded: h >> 8)
                }
            }
            return bytes
        }
    }

    /// Floats spread over several orders of magnitude, both signs.
    static func randomFloats<G: RandomNumberGenerator>(_ count: Int, _ rng: inout G) -> [Float] {
        (0..<count).map { _ in
            Float.random(in: -1...1, using: &rng) * Float(pow(10.0, Double.random(in: -3...1, using: &rng)))
        }
    }
}

/// Σ expected[i]·x[i] in Double and Σ|expected[i]·x[i]|, the scale for dot tolerances.
func referenceDot(_ values: [Float], _ x: [Float]) -> (sum: Double, magnitude: Double) {
    var sum = 0.0, magnitude = 0.0
    for i in values.indices {
        let t = Double(values[i]) * Double(x[i])
        sum += t
        magnitude += abs(t)
    }
    return (sum, magnitude)
}

/// Checks a Float dot product against a Double reference: |got − want| ≤ 1e-5·Σ|terms|.
/// Float accumulation of n terms errs by at most about n·2⁻²⁴·Σ|terms| (≈ 1e-4 for the
/// longest rows here) and typically √n·2⁻²⁴ (≈ 3e-6), so 1e-5 catches any real mistake
/// (a wrong element changes the sum by a whole term) without flagging rounding.
func assertDot(_ got: Float, _ want: (sum: Double, magnitude: Double), _ message: @autoclosure () -> String,
               file: StaticString = #filePath, line: UInt = #line) {
    let tolerance = 1e-5 * want.magnitude
    XCTAssert(abs(Double(got) - want.sum) <= tolerance,
              "\(message()): dot \(got), expected \(want.sum) ± \(tolerance)", file: file, line: line)
}

/// Compares two float arrays bit for bit and reports the first few mismatches.
func assertBitwiseEqual(_ got: [Float], _ want: [Float], _ message: @autoclosure () -> String,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, want.count, message(), file: file, line: line)
    var mismatches: [String] = []
    for i in 0..<min(got.count, want.count) where got[i].bitPattern != want[i].bitPattern {
        mismatches.append("[\(i)] \(got[i]) != \(want[i])")
        if mismatches.count == 5 { break }
    }
    XCTAssert(mismatches.isEmpty, "\(message()): \(mismatches.joined(separator: ", "))", file: file, line: line)
}

extension Array where Element == UInt8 {
    /// Decodes a lowercase/uppercase hex string; nil if it is malformed.
    init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }

    /// Little-endian float32 values.
    var asFloats: [Float] {
        stride(from: 0, to: count - 3, by: 4).map { i in
            Float(bitPattern: UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24)
        }
    }
}

/// Memory that ends right before an inaccessible page, so a kernel that reads or writes
/// even one byte past the end of its row crashes the test instead of passing silently.
final class GuardedBuffer {
    let base: UnsafeMutableRawPointer
    let mappedBytes: Int
    let pageSize: Int
    /// First byte of the usable region of `count` bytes, which ends at the guard page.
    let start: UnsafeMutableRawPointer

    init(bytes count: Int) {
        pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataPages = (count + pageSize - 1) / pageSize
        mappedBytes = (dataPages + 1) * pageSize
        guard let p = mmap(nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            fatalError("mmap failed")
        }
        base = p
        let guardPage = base + dataPages * pageSize
        precondition(mprotect(guardPage, pageSize, PROT_NONE) == 0, "mprotect failed")
        start = guardPage - count
    }

    deinit { munmap(base, mappedBytes) }
}
