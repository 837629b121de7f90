@testable import LoomKernels

/// Naive scalar dequantisation written straight from llama.cpp's formulas (`ggml/src/ggml-common.h`
/// block layouts, `ggml/src/ggml-quants.c` `dequantize_row_*`): byte arrays, integer arithmetic,
/// one element at a time, in ggml's loop order. Shares no code with the SIMD kernels —
/// not even the fp16 decode — so the two can be checked against each other.
enum ReferenceKernels {
    /// IEEE binary16 decode by definition: (−1)^s · 2^(e−15) · 1.m, or 2^−14 · 0.m for e = 0.
    static func half(_ h: UInt16) -> Float {
        let negative = h & 0x8000 != 0
        let e = Int((h >> 10) & 0x1F)
        let m = Int(h & 0x3FF)
        let magnitude: Float
        switch e {
        case 0: magnitude = Float(m) * 0x1p-24                      // exact: m < 2^10
        case 31: magnitude = m == 0 ? .infinity : .nan
        default: magnitude = Float(1024 + m) * Float(sign: .plus, exponent: e - 25, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }

    static func half(_ b: [UInt8], _ at: Int) -> Float { half(UInt16(b[at]) | UInt16(b[at + 1]) << 8) }

    static func dequantize(_ type: GGMLType, _ b: [UInt8], count: Int) -> [Float] {
        var y: [Float] = []
        y.reserveCapacity(count)
        let blocks = count / type.blockSize
        for i in 0..<blocks {
            let block = Array(b[i * type.blockBytes ..< (i + 1) * type.blockBytes])
            switch type {
            case .f32:
                y.append(Float(bitPattern: UInt32(block[0]) | UInt32(block[1]) << 8 | UInt32(block[2]) << 16 | UInt32(block[3]) << 24))
            case .f16: y.append(half(block, 0))
            case .bf16: y.append(Float(bitPattern: (UInt32(block[0]) | UInt32(block[1]) << 8) << 16))
            case .i8: y.append(Float(Int8(bitPattern: block[0])))
            case .q4_0: y += q4_0(block)
            case .q4_1: y += q4_1(block)
            case .q5_0: y += q5(block, hasMin: false)
            case .q5_1: y += q5(block, hasMin: true)
            case .q8_0: y += q8_0(block)
            case .q2_K: y += q2_K(block)
            case .q3_K: y += q3_K(block)
            case .q4_K: y += q4_K(block)
            case .q5_K: y += q5_K(block)
            case .q6_K: y += q6_K(block)
            case .tq1_0: y += tq1_0(block)
            case .tq2_0: y += tq2_0(block)
            }
        }
        return y
    }

    // MARK: 32-element blocks

    static func q4_0(_ b: [UInt8]) -> [Float] {
        let d = half(b, 0)
        var y = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            y[j] = Float(Int(b[2 + j] & 0xF) - 8) * d
            y[j + 16] = Float(Int(b[2 + j] >> 4) - 8) * d
        }
        return y
    }

    static func q4_1(_ b: [UInt8]) -> [Float] {
        let d = half(b, 0), m = half(b, 2)
        var y = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            y[j] = Float(b[4 + j] & 0xF) * d + m
            y[j + 16] = Float(b[4 + j] >> 4) * d + m
        }
        return y
    }

    static func q5(_ b: [UInt8], hasMin: Bool) -> [Float] {
        let d = half(b, 0)
        let m: Float = hasMin ? half(b, 2) : 0
        let qhAt = hasMin ? 4 : 2
        let qsAt = qhAt + 4
        let qh = UInt32(b[qhAt]) | UInt32(b[qhAt + 1]) << 8 | UInt32(b[qhAt + 2]) << 16 | UInt32(b[qhAt + 3]) << 24
        var y = [Float](repeating: 0, count: 32)
        for j in 0..<16 {
            let lo = Int(b[qsAt + j] & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
            let hi = Int(b[qsAt + j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
            if hasMin {
                y[j] = Float(lo) * d + m
                y[j + 16] = Float(hi) * d + m
            } else {
                y[j] = Float(lo - 16) * d
                y[j + 16] = Float(hi - 16) * d
            }
        }
        return y
    }

    static func q8_0(_ b: [UInt8]) -> [Float] {
        let d = half(b, 0)
        return (0..<32).map { Float(Int8(bitPattern: b[2 + $0])) * d }
    }

    // MARK: 256-element super-blocks

    static func q2_K(_ b: [UInt8]) -> [Float] {
        let d = half(b, 80), dmin = half(b, 82)
        var y: [Float] = []
        var scaleIndex = 0
        for h in 0..<2 {
            let q = 16 + 32 * h
            for j in 0..<4 {
                let shift = 2 * j
                for part in 0..<2 {
                    let sc = b[scaleIndex]
                    scaleIndex += 1
                    let dl = d * Float(sc & 0xF), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 {
                        y.append(dl * Float((Int(b[q + l + 16 * part]) >> shift) & 3) - ml)
                    }
                }
            }
        }
        return y
    }

    /// The 16 signed 6-bit Q3_K scales from their 12 packed bytes.
    static func q3_KScale(_ s: [UInt8], _ i: Int) -> Int {
        let low4 = i < 8 ? Int(s[i] & 0xF) : Int(s[i - 8] >> 4)
        let high2 = (Int(s[8 + i % 4]) >> (2 * (i / 4))) & 3
        return (low4 | high2 << 4) - 32
    }

    static func q3_K(_ b: [UInt8]) -> [Float] {
        let hm = Array(b[0..<32]), scales = Array(b[96..<108])
        let d = half(b, 108)
        var y: [Float] = []
        var scaleIndex = 0
        var m = 1
        for h in 0..<2 {
            let q = 32 + 32 * h
            for j in 0..<4 {
                let shift = 2 * j
                for part in 0..<2 {
                    let dl = d * Float(q3_KScale(scales, scaleIndex))
                    scaleIndex += 1
                    for l in 16 * part ..< 16 * part + 16 {
                        let low = (Int(b[q + l]) >> shift) & 3
                        y.append(dl * Float(low - (Int(hm[l]) & m != 0 ? 0 : 4)))
                    }
                }
                m <<= 1
            }
        }
        return y
    }

    /// ggml's `get_scale_min_k4`.
    static func scaleMinK4(_ j: Int, _ s: [UInt8]) -> (Int, Int) {
        if j < 4 { return (Int(s[j] & 63), Int(s[j + 4] & 63)) }
        return (Int(s[j + 4] & 0xF) | Int(s[j - 4] >> 6) << 4, Int(s[j + 4] >> 4) | Int(s[j] >> 6) << 4)
    }

    static func q4_K(_ b: [UInt8]) -> [Float] {
        let d = half(b, 0), dmin = half(b, 2)
        let scales = Array(b[4..<16])
        var y: [Float] = []
        for c in 0..<4 {
            let q = 16 + 32 * c
            let (sc1, m1) = scaleMinK4(2 * c, scales), (sc2, m2) = scaleMinK4(2 * c + 1, scales)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 { y.append(d1 * Float(b[q + l] & 0xF) - min1) }
            for l in 0..<32 { y.append(d2 * Float(b[q + l] >> 4) - min2) }
        }
        return y
    }

    static func q5_K(_ b: [UInt8]) -> [Float] {
        let d = half(b, 0), dmin = half(b, 2)
        let scales = Array(b[4..<16]), qh = Array(b[16..<48])
        var y: [Float] = []
        for c in 0..<4 {
            let q = 48 + 32 * c
            let (sc1, m1) = scaleMinK4(2 * c, scales), (sc2, m2) = scaleMinK4(2 * c + 1, scales)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            let u1 = 1 << (2 * c), u2 = 1 << (2 * c + 1)
            for l in 0..<32 { y.append(d1 * Float(Int(b[q + l] & 0xF) + (Int(qh[l]) & u1 != 0 ? 16 : 0)) - min1) }
            for l in 0..<32 { y.append(d2 * Float(Int(b[q + l] >> 4) + (Int(qh[l]) & u2 != 0 ? 16 : 0)) - min2) }
        }
        return y
    }

    static func q6_K(_ b: [UInt8]) -> [Float] {
        let d = half(b, 208)
        var y = [Float](repeating: 0, count: 256)
        for n in 0..<2 {
            let ql = 64 * n, qh = 128 + 32 * n, sc = 192 + 8 * n, out = 128 * n
            for l in 0..<32 {
                let scale = { (k: Int) in Float(Int8(bitPattern: b[sc + l / 16 + k])) }
                let q1 = Int(b[ql + l] & 0xF) | (Int(b[qh + l]) >> 0 & 3) << 4
                let q2 = Int(b[ql + l + 32] & 0xF) | (Int(b[qh + l]) >> 2 & 3) << 4
                let q3 = Int(b[ql + l] >> 4) | (Int(b[qh + l]) >> 4 & 3) << 4
                let q4 = Int(b[ql + l + 32] >> 4) | (Int(b[qh + l]) >> 6 & 3) << 4
                y[out + l] = d * scale(0) * Float(q1 - 32)
                y[out + l + 32] = d * scale(2) * Float(q2 - 32)
                y[out + l + 64] = d * scale(4) * Float(q3 - 32)
                y[out + l + 96] = d * scale(6) * Float(q4 - 32)
            }
        }
        return y
    }

    // MARK: ternary (ggml-quants.c dequantize_row_tq1_0 / dequantize_row_tq2_0, scalar)

    static func tq2_0(_ b: [UInt8]) -> [Float] {
        let d = half(b, 64)
        var y: [Float] = []
        for j in stride(from: 0, to: 64, by: 32) {
            for l in 0..<4 {
                for m in 0..<32 { y.append(Float(Int((b[j + m] >> (2 * l)) & 3) - 1) * d) }
            }
        }
        return y
    }

    static func tq1_0(_ b: [UInt8]) -> [Float] {
        let d = half(b, 52)
        let pow3: [UInt8] = [1, 3, 9, 27, 81, 243]
        func digit(_ byte: UInt8, _ n: Int) -> Float {
            let q = byte &* pow3[n]
            return Float(Int((UInt16(q) * 3) >> 8) - 1) * d
        }
        var y: [Float] = []
        for n in 0..<5 { for m in 0..<32 { y.append(digit(b[m], n)) } }
        for n in 0..<5 { for m in 0..<16 { y.append(digit(b[32 + m], n)) } }
        for n in 0..<4 { for j in 0..<4 { y.append(digit(b[48 + j], n)) } }
        return y
    }
}
