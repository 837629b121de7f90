// What the ternary kernels need from a block format: the codes u = w/d + 1 ∈ {0, 1, 2} of a
// 256-element block in element order, 32 at a time, and the block's scale d.
//
// Dequantisation, the float dot, the integer decode kernels and the prompt kernel are all
// written once, generic over this protocol, for TQ1_0, TQ2_0 and the unpacked tile form of
// the prompt kernel (``TernaryUnpackedBlock``). A ternary layout with one scale per tensor
// (BitNet's `weight_scale`, bitnet.cpp's I2_S) fits the same shape: its `scale` is the
// tensor's, and its `codes` the 2-bit fields.

/// A 256-element ternary block format (value = d·(u − 1), u ∈ {0, 1, 2}).
protocol TernaryBlock {
    /// Bytes from one block to the next.
    static var bytes: Int { get }
    /// Codes u of elements 32·chunk ..< 32·chunk + 32 (chunk 0..<8) of the block at `p`.
    static func codes(_ p: UnsafeRawPointer, chunk: Int) -> SIMD32<UInt8>
    /// The block's scale d.
    static func scale(_ p: UnsafeRawPointer) -> Float
}

extension TernaryBlock {
    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, blocks: Int) {
        for b in 0..<blocks {
            let p = src + b * bytes
            let d = SIMD16<Float>(repeating: scale(p))
            let y = dst + 256 * b
            for c in 0..<8 {
                // (u − 1)·d exactly as ggml's `(float)(xi - 1) * d`: one rounding, no FMA.
                let w = halves(codes(p, chunk: c) &- 1)
                storeFloats16(signedFloats(w.0) * d, y + 32 * c)
                storeFloats16(signedFloats(w.1) * d, y + 32 * c + 16)
            }
        }
    }

    /// Σ over blocks of d·Σ (u − 1)·x.
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, blocks: Int) -> Float {
        var acc = SIMD16<Float>()
        for b in 0..<blocks {
            let p = row + b * bytes
            let xb = x + 256 * b
            var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
            for c in 0..<8 {
                let w = halves(codes(p, chunk: c) &- 1)
                s0.addProduct(signedFloats(w.0), loadFloats16(xb + 32 * c))
                s1.addProduct(signedFloats(w.1), loadFloats16(xb + 32 * c + 16))
            }
            acc.addProduct(s0 + s1, SIMD16(repeating: scale(p)))
        }
        return horizontalSum(acc)
    }
}

/// The two 16-byte halves of `v` (a bit cast: `lowHalf`/`highHalf` of SIMD32<UInt8> compiled
/// to lane-by-lane code, ~300× slower in the float kernels).
@inline(__always)
func halves(_ v: SIMD32<UInt8>) -> (SIMD16<UInt8>, SIMD16<UInt8>) {
    unsafeBitCast(v, to: (SIMD16<UInt8>, SIMD16<UInt8>).self)
}

/// Lane i = the base-3 digit of `v[i]` selected by the multiplier `m[i]` (a power of 3): TQ1_0
/// stores five digits per byte as ⌈q·256/243⌉, so the digit at weight 3⁴/m is the top of
/// (v·m mod 256)·3 (ggml's `((uint16_t)(q * pow3[n]) * 3) >> 8`). Computed on 16-bit lanes,
/// even and odd bytes apart (`vpmullw`, shifts and masks; a byte-lane loop did not vectorise).
@inline(__always)
func ternaryDigits(_ v: SIMD32<UInt8>, times m: SIMD32<UInt8>) -> SIMD32<UInt8> {
    let w = unsafeBitCast(v, to: SIMD16<UInt16>.self), k = unsafeBitCast(m, to: SIMD16<UInt16>.self)
    let even = ((((w & 0xFF) &* (k & 0xFF)) & 0xFF) &* 3) &>> 8
    let odd = ((((w &>> 8) &* (k &>> 8)) & 0xFF) &* 3) &>> 8
    return unsafeBitCast(even | (odd &<< 8), to: SIMD32<UInt8>.self)
}

/// The unpacked form of a ternary block in the prompt kernel's tiles: 256 codes u as bytes,
/// then d as a `Float` (260 bytes).
enum TernaryUnpackedBlock: TernaryBlock {
    static var bytes: Int { 260 }
    @inline(__always) static func codes(_ p: UnsafeRawPointer, chunk: Int) -> SIMD32<UInt8> {
        p.loadUnaligned(fromByteOffset: 32 * chunk, as: SIMD32<UInt8>.self)
    }
    @inline(__always) static func scale(_ p: UnsafeRawPointer) -> Float {
        p.loadUnaligned(fromByteOffset: 256, as: Float.self)
    }

    /// Unpacks `blocks` blocks of `K` at `src` to this form at `dst`.
    @inline(__always)
    static func unpack<K: TernaryBlock>(_: K.Type, _ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutableRawPointer) {
        for b in 0..<blocks {
            let p = src + b * K.bytes
            let q = dst + b * bytes
            for c in 0..<8 { q.storeBytes(of: K.codes(p, chunk: c), toByteOffset: 32 * c, as: SIMD32<UInt8>.self) }
            q.storeBytes(of: K.scale(p), toByteOffset: 256, as: Float.self)
        }
    }
}
