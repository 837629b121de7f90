/// A fast, seedable, platform-independent 64-bit hash of bytes.
///
/// Swift's `Hasher` is randomly seeded per process, so it cannot give document ids that stay
/// the same across runs; this one does. The mixing steps are MurmurHash3's 64-bit constants
/// and finaliser (Austin Appleby, public domain, github.com/aappleby/smhasher), applied to
/// 8-byte little-endian words. Not cryptographic.
public enum StableHash {
    /// The hash of `bytes` under `seed`.
    @inlinable
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let n = bytes.count
        var h = seed ^ (UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        while i + 8 <= n {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            h ^= mixWord(word)
            h = rotate(h, 27) &* 5 &+ 0x52DC_E729
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h ^= mixWord(tail)
        }
        return finalize(h)
    }

    /// The hash of the UTF-8 bytes of `string`.
    public static func hash64(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var s = string
        return s.withUTF8 { hash64(UnsafeRawBufferPointer($0), seed: seed) }
    }

    /// The hash of a byte array.
    public static func hash64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash64($0, seed: seed) }
    }

    /// Combines two hashes (order matters), e.g. the words of a shingle.
    @inlinable
    public static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 {
        finalize(a ^ (mixWord(b) &+ 0x9E37_79B9_7F4A_7C15 &+ (a << 6) &+ (a >> 2)))
    }

    /// A hash as 16 lowercase hex digits.
    public static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    @inlinable
    static func rotate(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inlinable
    static func mixWord(_ word: UInt64) -> UInt64 {
        var k = word &* 0x87C3_7B91_1142_53D5
        k = rotate(k, 31)
        return k &* 0x4CF5_AD43_2745_937F
    }

    /// MurmurHash3's `fmix64`: every input bit affects every output bit.
    @inlinable
    public static func finalize(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }
}
