import Foundation
import LoomKernels

/// The deterministic weight generator of `scripts/synthetic_weights.py`, bit for bit: the tiny
/// test checkpoints are not committed but regenerated from a manifest (`weights.json`) by both
/// the fixture scripts and the tests. The script's docstring is the specification; the values
/// pinned in `SyntheticWeightsTests` are the script's own output (`python3 synthetic_weights.py`).
public enum SyntheticWeights {
    /// splitmix64 (Steele, Lea & Flood 2014; Vigna's reference C, prng.di.unimi.it/splitmix64.c).
    public struct SplitMix64 {
        public var state: UInt64

        public init(seed: UInt64) { state = seed }

        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// FNV-1a 64 (offset basis 0xCBF29CE484222325, prime 0x100000001B3) of `name`'s UTF-8 bytes.
    public static func fnv1a64(_ name: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// A tensor's seed: FNV-1a 64 of its name plus the fixture's base seed (mod 2^64).
    public static func tensorSeed(name: String, baseSeed: UInt64) -> UInt64 {
        fnv1a64(name) &+ baseSeed
    }

    /// Kind "uniform": `offset + amplitude * ((x >> 40) / 2^23 - 1)`, exact in Double (24-bit
    /// integer, power-of-two amplitude, small dyadic offset), rounded once to Float (to nearest
    /// even), exactly as NumPy's float64 → float32 cast.
    public static func uniform(seed: UInt64, count: Int, amplitude: Double, offset: Double = 0) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            Float(offset + amplitude * (Double(rng.next() >> 40) / 8_388_608.0 - 1.0))
        }
    }

    /// Kind "ternary": `((x >> 40) * 3 >> 24) - 1`, values in {-1, 0, 1}.
    public static func ternary(seed: UInt64, count: Int) -> [Int8] {
        var rng = SplitMix64(seed: seed)
        // Parenthesised: Swift's shifts bind tighter than multiplication.
        return (0..<count).map { _ in Int8(((rng.next() >> 40) &* 3) >> 24) - 1 }
    }

    /// Packs a row-major [rows, cols] ternary matrix as transformers' `integrations/bitnet.py`
    /// `pack_weights`: uint8 [rows/4, cols], byte (p, c) = Σ_k (t[k·rows/4 + p, c] + 1) << 2k.
    public static func packTernary(_ t: [Int8], rows: Int, cols: Int) -> [UInt8] {
        precondition(rows % 4 == 0 && t.count == rows * cols, "ternary matrix \(rows)x\(cols) cannot be packed")
        let quarter = rows / 4
        var out = [UInt8](repeating: 0, count: quarter * cols)
        for k in 0..<4 {
            for p in 0..<quarter {
                for c in 0..<cols {
                    out[p * cols + c] |= UInt8(t[(k * quarter + p) * cols + c] + 1) << (2 * k)
                }
            }
        }
        return out
    }

    /// Float values as stored bytes of `dtype` ("F32", "F16", "BF16"; round to nearest even).
    public static func stored(_ values: [Float], dtype: String) -> [UInt8]? {
        switch dtype {
        case "F32": return RowQuantizer.quantize(.f32, values)
        case "F16": return RowQuantizer.quantize(.f16, values)
        case "BF16": return RowQuantizer.quantize(.bf16, values)
        default: return nil
        }
    }
}
