/// xoshiro256** 1.0 (Blackman & Vigna), seeded through splitmix64 as its authors recommend.
///
/// Used instead of the standard library's generators because a seed must give the same tokens
/// on every platform and Swift version; this algorithm is fully specified by its reference C code.
struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Expands `seed` into the 256-bit state with four splitmix64 outputs; the state is never
    /// all zero because splitmix64 is a bijection of its counter (four consecutive outputs
    /// cannot all be zero).
    init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
    }

    /// Sets the raw state (for checking against the reference implementation's test vectors).
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = state
    }

    mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// A uniform double in [0, 1) from the top 53 bits (the reference's recommended conversion).
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

/// splitmix64 (Steele, Lea & Flood 2014; Vigna's reference C, prng.di.unimi.it/splitmix64.c):
/// a tiny, well-mixed 64-bit generator whose output is fixed by its seed on every platform
/// (Swift's `SystemRandomNumberGenerator` is not seedable). It seeds xoshiro here, and is the
/// one reproducible generator of needle placement, dataset splits, epoch shuffles and initial
/// LoRA factors.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits.
    public mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
