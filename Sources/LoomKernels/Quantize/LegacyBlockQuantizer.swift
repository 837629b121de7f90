/// Quantisers for the 32-element block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
///
/// Each produces exactly the bytes of ggml's `quantize_row_*_ref` and of gguf-py's
/// `gguf.quants.quantize` (which replicates it in numpy): the same float32 operations in the
/// same order, each rounded on its own (no fused multiply-add), scale stored as the
/// round-to-nearest-even half of the float32 scale, and code conversion by truncation or
/// round-half-away-from-zero where the reference does so.
///
/// Non-finite inputs do not crash: a code that would come from a NaN becomes 0. (The
/// reference's result is undefined there.)
enum LegacyBlockQuantizer {
    /// Truncates toward zero into an `Int32`, NaN to 0, saturating far outside the range —
    /// the reference's `(int8_t)` / `astype(uint8)` casts are only ever applied to small values.
    @inline(__always)
    static func truncated(_ v: Float) -> Int32 {
        if v.isNaN { return 0 }
        if v >= 2_147_483_520 { return Int32.max }
        if v <= -2_147_483_520 { return Int32.min }
        return Int32(v.rounded(.towardZero))
    }

    @inline(__always)
    static func storeHalf(_ value: Float, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: floatToHalf(value).littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// The element of largest magnitude (first on ties), with its sign — the `max` of
    /// ggml's Q4_0/Q5_0 quantisers and numpy's `argmax(abs(x))`.
    @inline(__always)
    static func signedAbsMax(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 {
            let v = x[j]
            if amax < abs(v) { amax = abs(v); max = v }
        }
        return max
    }

    @inline(__always)
    static func minMax(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            let v = x[j]
            if v < min { min = v }
            if v > max { max = v }
        }
        return (min, max)
    }

    /// Q8_0: d = amax/127, q = round(x/d) half away from zero.
    static func quantizeQ8_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        for b in 0..<blocks {
            let x = src + 32 * b
            let y = dst + 34 * b
            var amax: Float = 0
            for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            storeHalf(d, y, 0)
            for j in 0..<32 {
                let q = truncated((x[j] * id).rounded(.toNearestOrAwayFromZero))
                y.storeBytes(of: UInt8(truncatingIfNeeded: q), toByteOffset: 2 + j, as: UInt8.self)
            }
        }
    }

    /// Q4_0: d = max/−8 (max = signed element of largest magnitude), q = min(15, trunc(x/d + 8.5)).
    static func quantizeQ4_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        for b in 0..<blocks {
            let x = src + 32 * b
            let y = dst + 18 * b
            let d = signedAbsMax(x) / -8
            let id: Float = d != 0 ? 1 / d : 0
            storeHalf(d, y, 0)
            for j in 0..<16 {
                let q0 = clampCode(truncated(x[j] * id + 8.5), 15)
                let q1 = clampCode(truncated(x[j + 16] * id + 8.5), 15)
                y.storeBytes(of: q0 | (q1 << 4), toByteOffset: 2 + j, as: UInt8.self)
            }
        }
    }

    /// Q4_1: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)).
    static func quantizeQ4_1(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        for b in 0..<blocks {
            let x = src + 32 * b
            let y = dst + 20 * b
            let (min, max) = minMax(x)
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            storeHalf(d, y, 0)
            storeHalf(min, y, 2)
            for j in 0..<16 {
                let q0 = clampCode(truncated((x[j] - min) * id + 0.5), 15)
                let q1 = clampCode(truncated((x[j + 16] - min) * id + 0.5), 15)
                y.storeBytes(of: q0 | (q1 << 4), toByteOffset: 4 + j, as: UInt8.self)
            }
        }
    }

    /// Q5_0: d = max/−16, q = min(31, trunc(x/d + 16.5)); bit 4 of element j goes to bit j of qh.
    static func quantizeQ5_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        for b in 0..<blocks {
            let x = src + 32 * b
            let y = dst + 22 * b
            let d = signedAbsMax(x) / -16
            let id: Float = d != 0 ? 1 / d : 0
            storeHalf(d, y, 0)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let q0 = clampCode(truncated(x[j] * id + 16.5), 31)
                let q1 = clampCode(truncated(x[j + 16] * id + 16.5), 31)
                y.storeBytes(of: (q0 & 0x0F) | ((q1 & 0x0F) << 4), toByteOffset: 6 + j, as: UInt8.self)
                qh |= UInt32(q0 >> 4) << j
                qh |= UInt32(q1 >> 4) << (j + 16)
            }
            y.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
        }
    }

    /// Q5_1: d = (max − min)/31, m = min, q = min(31, trunc((x − min)/d + 0.5)).
    static func quantizeQ5_1(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        for b in 0..<blocks {
            let x = src + 32 * b
            let y = dst + 24 * b
            let (min, max) = minMax(x)
            let d = (max - min) / 31
            let id: Float = d != 0 ? 1 / d : 0
            storeHalf(d, y, 0)
            storeHalf(min, y, 2)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let q0 = clampCode(truncated((x[j] - min) * id + 0.5), 31)
                let q1 = clampCode(truncated((x[j + 16] - min) * id + 0.5), 31)
                y.storeBytes(of: (q0 & 0x0F) | ((q1 & 0x0F) << 4), toByteOffset: 8 + j, as: UInt8.self)
                qh |= UInt32(q0 >> 4) << j
                qh |= UInt32(q1 >> 4) << (j + 16)
            }
            y.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
    }

    /// `clip(0, limit)` of a truncated code (negative only for non-finite input).
    @inline(__always)
    static func clampCode(_ q: Int32, _ limit: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: Swift.min(limit, Swift.max(0, q)))
    }
}
