/// A vectorised `exp` for the sampler's softmax passes over the whole vocabulary.
///
/// `expf` from libm is a scalar call per logit (~150k per token); this evaluates 16 lanes at
/// once with the classic Cody–Waite reduction `x = n·ln2 + r`, |r| ≤ ln2/2, and Cephes' degree-6
/// minimax polynomial for `exp(r)`, then scales by 2^n through the exponent bits. Accuracy:
/// within 2 ulp of the true value on [-86.6, 88.72] (checked against `Foundation.exp` in the
/// tests). Results below 2^-125 (x < -86.6) are flushed to exactly 0 — a probability weight
/// relative to the largest one, which is 1, loses nothing that float sums could see — and
/// x > 88.72 gives +inf. `-inf` gives 0.
///
/// Only operations that LLVM lowers to vector instructions are used (float↔int conversions of
/// Swift SIMD types are scalarised, so rounding uses the 1.5·2^23 "magic number" trick and the
/// integer `n` is read from the float's bits).
enum VectorExp {
    @_transparent
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let lowest = SIMD16<Float>(repeating: -86.6)
        let highest = SIMD16<Float>(repeating: 88.72283)
        // Adding 1.5·2^23 rounds to an integer (round-to-nearest-even) and leaves it in the low
        // mantissa bits, so the bit pattern minus the magic's bit pattern is n as an Int32.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        var c = x
        c.replace(with: lowest, where: x .< lowest)
        c.replace(with: highest, where: x .> highest)
        // c·log2(e) as c + c·0.4426…, which keeps the fma exact in its leading part.
        let t = c.addingProduct(c, SIMD16(repeating: 0.442_695_040_888_963_41)) + magic
        let n = t - magic
        // r = c - n·ln2 with ln2 split in a part exact in float and a correction.
        var r = c.addingProduct(n, SIMD16(repeating: -0.693_359_375))
        r = r.addingProduct(n, SIMD16(repeating: 2.121_944_40e-4))
        var p = SIMD16<Float>(repeating: 1.987_569_150_0e-4)
        p = SIMD16(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = SIMD16(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = SIMD16(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = SIMD16(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = SIMD16(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let y = r.addingProduct(p, r * r) + SIMD16(repeating: 1)
        // 2^n as 2^(n-1)·2 so that n = 128 (x close to 88.72) does not overflow the exponent.
        let k = unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let scale = unsafeBitCast((k &+ SIMD16(repeating: 126)) &<< SIMD16(repeating: 23), to: SIMD16<Float>.self)
        var out = (y * scale) * SIMD16(repeating: 2)
        out.replace(with: SIMD16(repeating: 0), where: x .< lowest)
        out.replace(with: SIMD16(repeating: .infinity), where: x .> highest)
        return out
    }

    /// The same function for one value (lane 0 of the vector version, so that per-token sums
    /// and whole-vocabulary sums use bit-identical weights).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        exp(SIMD16(repeating: x))[0]
    }
}
