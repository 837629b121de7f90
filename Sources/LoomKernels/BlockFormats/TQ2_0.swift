/// TQ2_0: blocks of 256 ternary weights in 66 bytes — `u8 qs[64]; half d` (llama.cpp
/// ggml-common.h `block_tq2_0`). Byte 32h + m holds, in bits 2l..2l+1, the code u of element
/// 128h + 32l + m; value = d·(u − 1) (ggml-quants.c `dequantize_row_tq2_0`).
enum BlockTQ2_0: TernaryBlock {
    static var bytes: Int { 66 }

    @inline(__always)
    static func codes(_ p: UnsafeRawPointer, chunk c: Int) -> SIMD32<UInt8> {
        // Shifts and masks on 32-bit lanes: Swift's `&>>` and `&` on SIMD32<UInt8> are lane loops.
        let w = p.loadUnaligned(fromByteOffset: 32 * (c >> 2), as: SIMD8<UInt32>.self)
        return unsafeBitCast((w &>> UInt32(2 * (c & 3))) & 0x0303_0303, to: SIMD32<UInt8>.self)
    }

    @inline(__always)
    static func scale(_ p: UnsafeRawPointer) -> Float { loadHalf(p, 64) }
}
