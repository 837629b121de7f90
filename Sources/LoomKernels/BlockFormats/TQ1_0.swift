/// TQ1_0: blocks of 256 ternary weights in 54 bytes — `u8 qs[48]; u8 qh[4]; half d`
/// (llama.cpp ggml-common.h `block_tq1_0`), codes u ∈ {0, 1, 2} as base-3 digits, five per
/// byte, stored as ⌈q·256/243⌉ (ggml-quants.c `quantize_row_tq1_0_ref`):
/// - qs[m], m < 32: digit n (most significant first) is element 32n + m (elements 0..<160);
/// - qs[32 + m], m < 16: digit n is element 160 + 16n + m (160..<240);
/// - qh[j]: digit n (of four) is element 240 + 4n + j.
/// value = d·(u − 1).
enum BlockTQ1_0: TernaryBlock {
    static var bytes: Int { 54 }

    @inline(__always)
    static func codes(_ p: UnsafeRawPointer, chunk c: Int) -> SIMD32<UInt8> {
        if c < 5 {
            var m: UInt8 = 1
            for _ in 0..<c { m &*= 3 }
            return ternaryDigits(p.loadUnaligned(as: SIMD32<UInt8>.self), times: SIMD32(repeating: m))
        }
        let tail = p.loadUnaligned(fromByteOffset: 32, as: SIMD16<UInt8>.self)
        switch c {
        case 5:
            return ternaryDigits(joined(tail, tail), times: joined(SIMD16(repeating: 1), SIMD16(repeating: 3)))
        case 6:
            return ternaryDigits(joined(tail, tail), times: joined(SIMD16(repeating: 9), SIMD16(repeating: 27)))
        default:
            // Elements 224..<240 (digit 4 of the tail) and the 16 of qh (lane 4n + j: digit n of qh[j]).
            let qh = unsafeBitCast(SIMD4<UInt32>(repeating: p.loadUnaligned(fromByteOffset: 48, as: UInt32.self)), to: SIMD16<UInt8>.self)
            let m = SIMD16<UInt8>(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27)
            return ternaryDigits(joined(tail, qh), times: joined(SIMD16(repeating: 81), m))
        }
    }

    @inline(__always)
    static func scale(_ p: UnsafeRawPointer) -> Float { loadHalf(p, 52) }
}

/// `low` then `high` as one vector (a bit cast; see ``halves(_:)``).
@inline(__always)
func joined(_ low: SIMD16<UInt8>, _ high: SIMD16<UInt8>) -> SIMD32<UInt8> {
    unsafeBitCast((low, high), to: SIMD32<UInt8>.self)
}
