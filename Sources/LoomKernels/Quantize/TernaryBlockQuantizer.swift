import Foundation

/// Ports of ggml's ternary reference quantisers (ggml-quants.c `quantize_row_tq1_0_ref`,
/// `quantize_row_tq2_0_ref`), which `llama-quantize` uses for TQ1_0 and TQ2_0 (they take no
/// importance matrix): per 256-element block d = max|x|, codes lroundf(x/d) + 1 ∈ {0, 1, 2}.
/// Every float operation is the reference's (`1.0f/d`, then `x·id`, rounded half away from
/// zero), so the bytes are the same.
///
/// Weights that are already ternary per block ({−s, 0, +s}) come back exactly: d = s, and
/// x·(1/s) rounds to −1, 0 or 1.
enum TernaryBlockQuantizer {
    /// d and 1/d of the 256 floats at `x` (d = max|x|; 1/d = 0 for an all-zero block).
    @inline(__always)
    static func scale(_ x: UnsafePointer<Float>) -> (d: Float, id: Float) {
        var amax: Float = 0
        // ggml's MAX(amax, fabsf(v)) = amax > v ? amax : v, NaN behaviour included.
        for j in 0..<256 {
            let v = abs(x[j])
            amax = amax > v ? amax : v
        }
        return (amax, amax != 0 ? 1 / amax : 0)
    }

    /// lroundf(v·id) + 1 as ggml computes it (an out-of-range or NaN product gives what
    /// x86-64's `lroundf` gives, truncated into the byte arithmetic like the C code).
    @inline(__always)
    static func code(_ v: Float, _ id: Float) -> Int {
        let t = (v * id).rounded(.toNearestOrAwayFromZero)
        guard t.isFinite, abs(t) < 9.2e18 else { return Int(Int64.min) &+ 1 }
        return Int(t) + 1
    }

    static func quantizeTQ2_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        for i in 0..<blocks {
            let x = src + 256 * i
            let y = dst + BlockTQ2_0.bytes * i
            let (d, id) = scale(x)
            y.storeBytes(of: floatToHalf(d).littleEndian, toByteOffset: 64, as: UInt16.self)
            for j in stride(from: 0, to: 64, by: 32) {
                let xj = x + 4 * j
                for m in 0..<32 {
                    var q: UInt8 = 0
                    for n in 0..<4 { q &+= UInt8(truncatingIfNeeded: (code(xj[m + 32 * n], id) & 3) << (2 * n)) }
                    y.storeBytes(of: q, toByteOffset: j + m, as: UInt8.self)
                }
            }
        }
    }

    static func quantizeTQ1_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        // ⌈q·256/243⌉ in 16 bits, stored as a byte (243 = 3⁵).
        @inline(__always) func pack(_ q: UInt8) -> UInt8 { UInt8(truncatingIfNeeded: (UInt16(q) &* 256 &+ 242) / 243) }
        for i in 0..<blocks {
            var x = src + 256 * i
            let y = dst + BlockTQ1_0.bytes * i
            let (d, id) = scale(x)
            y.storeBytes(of: floatToHalf(d).littleEndian, toByteOffset: 52, as: UInt16.self)
            // 5 elements per byte along 32 bytes (elements 0..<160).
            for m in 0..<32 {
                var q: UInt8 = 0
                for n in 0..<5 { q = q &* 3 &+ UInt8(truncatingIfNeeded: code(x[m + 32 * n], id)) }
                y.storeBytes(of: pack(q), toByteOffset: m, as: UInt8.self)
            }
            x += 160
            // Along 16 bytes (160..<240).
            for m in 0..<16 {
                var q: UInt8 = 0
                for n in 0..<5 { q = q &* 3 &+ UInt8(truncatingIfNeeded: code(x[m + 16 * n], id)) }
                y.storeBytes(of: pack(q), toByteOffset: 32 + m, as: UInt8.self)
            }
            x += 80
            // 4 elements per byte (240..<256), the first shifted to the most significant digit.
            for j in 0..<4 {
                var q: UInt8 = 0
                for n in 0..<4 { q = q &* 3 &+ UInt8(truncatingIfNeeded: code(x[j + 4 * n], id)) }
                y.storeBytes(of: pack(q &* 3), toByteOffset: 48 + j, as: UInt8.self)
            }
        }
    }
}
