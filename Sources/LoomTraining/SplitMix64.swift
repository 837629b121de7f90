/// splitmix64 (Steele, Lea & Flood 2014; Vigna's reference C, prng.di.unimi.it/splitmix64.c):
/// the seeded initial LoRA A and the tests' deterministic values.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits.
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
