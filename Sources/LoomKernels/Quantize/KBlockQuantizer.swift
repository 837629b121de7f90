#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Quantisers for the 256-element K-quant super-blocks (Q2_K … Q6_K): Swift ports of
/// llama.cpp's `quantize_row_q*_K_ref` (ggml-quants.c), the functions `llama-quantize` uses
/// when no importance matrix is given. Block layouts are documented with the matching
/// dequantisers (`BlockQ2_K` …).
///
/// Each function quantises `blocks` consecutive super-blocks from `src` into `dst`.
enum KBlockQuantizer {
    @inline(__always)
    static func storeHalf(_ value: Float, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: floatToHalf(value).littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inline(__always)
    static func loadHalf(_ p: UnsafeMutableRawPointer, _ offset: Int) -> Float {
        halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    static func byte(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: v) }

    /// Packs 2-bit codes in the Q2_K/Q3_K order: byte 32h + l holds elements 128h + 32j + l
    /// in bits 2j (j = 0..<4).
    @inline(__always)
    static func pack2Bit(_ L: UnsafeMutablePointer<UInt8>, into qs: UnsafeMutableRawPointer) {
        for h in 0..<2 {
            for l in 0..<32 {
                let e = 128 * h + l
                let v = L[e] | (L[e + 32] << 2) | (L[e + 64] << 4) | (L[e + 96] << 6)
                qs.storeBytes(of: v, toByteOffset: 32 * h + l, as: UInt8.self)
            }
        }
    }

    // MARK: Q2_K

    static func quantizeQ2_K(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        withScratch { L, Laux, weights, mins, scales in
            let q4scale: Float = 15
            for b in 0..<blocks {
                let x = src + 256 * b
                let y = dst + 84 * b
                var maxScale: Float = 0, maxMin: Float = 0
                for j in 0..<16 {
                    for l in 0..<16 { weights[l] = abs(x[16 * j + l]) }
                    scales[j] = KQuantSearch.makeQKX2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                                            rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: true)
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if mins[j] > maxMin { maxMin = mins[j] }
                }
                var sc = [UInt8](repeating: 0, count: 16)
                if maxScale > 0 {
                    let iscale = q4scale / maxScale
                    for j in 0..<16 { sc[j] = byte(KQuantSearch.nearestInt(iscale * scales[j])) }
                    storeHalf(maxScale / q4scale, y, 80)
                } else {
                    storeHalf(0, y, 80)
                }
                if maxMin > 0 {
                    let iscale = q4scale / maxMin
                    for j in 0..<16 { sc[j] |= byte(KQuantSearch.nearestInt(iscale * mins[j]) << 4) }
                    storeHalf(maxMin / q4scale, y, 82)
                } else {
                    storeHalf(0, y, 82)
                }
                for j in 0..<16 { y.storeBytes(of: sc[j], toByteOffset: j, as: UInt8.self) }
                let dAll = loadHalf(y, 80), dminAll = loadHalf(y, 82)
                for j in 0..<16 {
                    let d = dAll * Float(sc[j] & 0x0F)
                    if d == 0 { continue }
                    let dm = dminAll * Float(sc[j] >> 4)
                    for i in 0..<16 {
                        let l = KQuantSearch.nearestInt((x[16 * j + i] + dm) / d)
                        L[16 * j + i] = byte(max(0, min(3, l)))
                    }
                }
                pack2Bit(L, into: y + 16)
            }
        }
    }

    // MARK: Q3_K

    static func quantizeQ3_K(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        withScratch { Lbytes, _, _, _, scales in
            let L = UnsafeMutableRawPointer(Lbytes).assumingMemoryBound(to: Int8.self)
            for b in 0..<blocks {
                let x = src + 256 * b
                let y = dst + 110 * b
                var maxScale: Float = 0, amax: Float = 0
                for j in 0..<16 {
                    scales[j] = KQuantSearch.makeQ3Quants(16, 4, x + 16 * j, L + 16 * j)
                    let scale = abs(scales[j])
                    if scale > amax { amax = scale; maxScale = scales[j] }
                }
                var packed = [UInt8](repeating: 0, count: 12)
                if maxScale != 0 {
                    let iscale = -32 / maxScale
                    for j in 0..<16 {
                        var l = Int8(truncatingIfNeeded: KQuantSearch.nearestInt(iscale * scales[j]))
                        l = max(-32, min(31, l)) + 32
                        if j < 8 { packed[j] = UInt8(l) & 0x0F } else { packed[j - 8] |= (UInt8(l) & 0x0F) << 4 }
                        l >>= 4
                        packed[j % 4 + 8] |= UInt8(l) << (2 * (j / 4))
                    }
                    storeHalf(1 / iscale, y, 108)
                } else {
                    storeHalf(0, y, 108)
                }
                for j in 0..<12 { y.storeBytes(of: packed[j], toByteOffset: 96 + j, as: UInt8.self) }
                let dAll = loadHalf(y, 108)
                for j in 0..<16 {
                    let low = j < 8 ? packed[j] & 0x0F : packed[j - 8] >> 4
                    let sc = Int32(low | (((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32
                    let d = dAll * Float(sc)
                    if d == 0 { continue }
                    for i in 0..<16 {
                        let l = KQuantSearch.nearestInt(x[16 * j + i] / d)
                        L[16 * j + i] = Int8(truncatingIfNeeded: max(-4, min(3, l)) + 4)
                    }
                }
                // High bit of element j goes to bit j/32 of hmask[j % 32].
                var hmask = [UInt8](repeating: 0, count: 32)
                for j in 0..<256 where L[j] > 3 {
                    hmask[j % 32] |= UInt8(1) << (j / 32)
                    L[j] -= 4
                }
                for j in 0..<32 { y.storeBytes(of: hmask[j], toByteOffset: j, as: UInt8.self) }
                pack2Bit(Lbytes, into: y + 32)
            }
        }
    }

    // MARK: Q4_K / Q5_K

    /// The shared first half of Q4_K and Q5_K: per-32 asymmetric scale search, 6-bit packed
    /// scales and mins at `y + 4`, d and dmin at `y + 0/2`; final codes (0...nmax) in `L`.
    @inline(__always)
    static func quantizeScalesK(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, nmax: Int32, rmin: Float, nstep: Int,
                                _ L: UnsafeMutablePointer<UInt8>, _ Laux: UnsafeMutablePointer<UInt8>,
                                _ weights: UnsafeMutablePointer<Float>, _ mins: UnsafeMutablePointer<Float>,
                                _ scales: UnsafeMutablePointer<Float>) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
            let avX = sqrtf(sumX2 / 32)
            for l in 0..<32 { weights[l] = avX + abs(x[32 * j + l]) }
            scales[j] = KQuantSearch.makeQKX2Quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                                    rmin: rmin, rdelta: 0.1, nstep: nstep, useMAD: false)
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            let ls = min(63, byte(KQuantSearch.nearestInt(invScale * scales[j])))
            let lm = min(63, byte(KQuantSearch.nearestInt(invMin * mins[j])))
            if j < 4 {
                packed[j] = ls
                packed[j + 4] = lm
            } else {
                packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4)
                packed[j - 4] |= (ls >> 4) << 6
                packed[j] |= (lm >> 4) << 6
            }
        }
        storeHalf(maxScale / 63, y, 0)
        storeHalf(maxMin / 63, y, 2)
        for j in 0..<12 { y.storeBytes(of: packed[j], toByteOffset: 4 + j, as: UInt8.self) }
        let dAll = loadHalf(y, 0), dminAll = loadHalf(y, 2)
        for j in 0..<8 {
            let (sc, m): (UInt8, UInt8) = j < 4
                ? (packed[j] & 63, packed[j + 4] & 63)
                : ((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
            let d = dAll * Float(sc)
            if d == 0 { continue }
            let dm = dminAll * Float(m)
            for i in 0..<32 {
                let l = KQuantSearch.nearestInt((x[32 * j + i] + dm) / d)
                L[32 * j + i] = byte(max(0, min(nmax, l)))
            }
        }
    }

    static func quantizeQ4_K(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        withScratch { L, Laux, weights, mins, scales in
            for b in 0..<blocks {
                let y = dst + 144 * b
                quantizeScalesK(src + 256 * b, y, nmax: 15, rmin: -1, nstep: 20, L, Laux, weights, mins, scales)
                for c in 0..<4 {
                    for l in 0..<32 {
                        y.storeBytes(of: L[64 * c + l] | (L[64 * c + l + 32] << 4), toByteOffset: 16 + 32 * c + l, as: UInt8.self)
                    }
                }
            }
        }
    }

    static func quantizeQ5_K(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        withScratch { L, Laux, weights, mins, scales in
            for b in 0..<blocks {
                let y = dst + 176 * b
                quantizeScalesK(src + 256 * b, y, nmax: 31, rmin: -0.5, nstep: 15, L, Laux, weights, mins, scales)
                var qh = [UInt8](repeating: 0, count: 32)
                for c in 0..<4 {
                    let m1 = UInt8(1) << (2 * c), m2 = UInt8(2) << (2 * c)
                    for j in 0..<32 {
                        var l1 = L[64 * c + j], l2 = L[64 * c + j + 32]
                        if l1 > 15 { l1 -= 16; qh[j] |= m1 }
                        if l2 > 15 { l2 -= 16; qh[j] |= m2 }
                        y.storeBytes(of: l1 | (l2 << 4), toByteOffset: 48 + 32 * c + j, as: UInt8.self)
                    }
                }
                for j in 0..<32 { y.storeBytes(of: qh[j], toByteOffset: 16 + j, as: UInt8.self) }
            }
        }
    }

    // MARK: Q6_K

    static func quantizeQ6_K(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, blocks: Int) {
        withScratch { Lbytes, _, _, _, scales in
            let L = UnsafeMutableRawPointer(Lbytes).assumingMemoryBound(to: Int8.self)
            for b in 0..<blocks {
                let x = src + 256 * b
                let y = dst + 210 * b
                var maxScale: Float = 0, maxAbsScale: Float = 0
                for ib in 0..<16 {
                    let scale = KQuantSearch.makeQXQuants(16, 32, x + 16 * ib, L + 16 * ib)
                    scales[ib] = scale
                    if abs(scale) > maxAbsScale { maxAbsScale = abs(scale); maxScale = scale }
                }
                if maxAbsScale < KQuantSearch.groupMaxEpsilon {
                    y.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
                    continue
                }
                let iscale = -128 / maxScale
                storeHalf(1 / iscale, y, 208)
                var sc = [Int8](repeating: 0, count: 16)
                for ib in 0..<16 {
                    sc[ib] = Int8(truncatingIfNeeded: min(127, KQuantSearch.nearestInt(iscale * scales[ib])))
                    y.storeBytes(of: sc[ib], toByteOffset: 192 + ib, as: Int8.self)
                }
                let dAll = loadHalf(y, 208)
                for j in 0..<16 {
                    let d = dAll * Float(sc[j])
                    if d == 0 { continue }
                    for i in 0..<16 {
                        let l = KQuantSearch.nearestInt(x[16 * j + i] / d)
                        L[16 * j + i] = Int8(truncatingIfNeeded: max(-32, min(31, l)) + 32)
                    }
                }
                for h in 0..<2 {
                    for l in 0..<32 {
                        let e = 128 * h + l
                        let q1 = Lbytes[e] & 0x0F, q2 = Lbytes[e + 32] & 0x0F
                        let q3 = Lbytes[e + 64] & 0x0F, q4 = Lbytes[e + 96] & 0x0F
                        y.storeBytes(of: q1 | (q3 << 4), toByteOffset: 64 * h + l, as: UInt8.self)
                        y.storeBytes(of: q2 | (q4 << 4), toByteOffset: 64 * h + l + 32, as: UInt8.self)
                        let hb = (Lbytes[e] >> 4) | ((Lbytes[e + 32] >> 4) << 2)
                            | ((Lbytes[e + 64] >> 4) << 4) | ((Lbytes[e + 96] >> 4) << 6)
                        y.storeBytes(of: hb, toByteOffset: 128 + 32 * h + l, as: UInt8.self)
                    }
                }
            }
        }
    }

    // MARK: Scratch

    /// Runs `body` with per-call scratch: codes L[256], Laux[32], weights[32], mins[16], scales[16].
    @inline(__always)
    static func withScratch(_ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>,
                                     UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16 + 16) { floats in
                bytes.initialize(repeating: 0)
                floats.initialize(repeating: 0)
                let b = bytes.baseAddress!, f = floats.baseAddress!
                body(b, b + 256, f, f + 32, f + 48)
            }
        }
    }
}
