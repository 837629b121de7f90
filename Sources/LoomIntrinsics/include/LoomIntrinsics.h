// CPU instructions Swift has no spelling for: a prefetch hint, and a byte select driven by
// the bits of an integer (an AVX-512 mask register). Header-only: Swift inlines these static
// inline functions into its callers, so each is one or two instructions in the kernel
// loops. Every use in LoomKernels has a plain-Swift fallback for builds without this module.
#ifndef LOOM_INTRINSICS_H
#define LOOM_INTRINSICS_H

/// Asks for the cache line at `p` to be brought into the L2 cache ahead of a read
/// (`prefetcht1` on x86-64, `prfm pldl2keep` on arm64). A hint only: it never faults and
/// never changes a result.
static inline __attribute__((always_inline)) void loom_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 2);
}

/// 1 where the compiler targets 512-bit vectors (AVX-512F): 32 vector registers that each
/// hold a `SIMD16<Float>`, so kernels can keep 16 such accumulators without spilling. Not an
/// instruction, a fact about the target Swift cannot ask the compiler directly.
#if defined(__AVX512F__)
#define LOOM_HAS_512_BIT_VECTORS 1
#else
#define LOOM_HAS_512_BIT_VECTORS 0
#endif

/// Vectors of 16 and 32 bytes; Swift imports them as `SIMD16<UInt8>` and `SIMD32<UInt8>`.
typedef unsigned char loom_u8x16 __attribute__((ext_vector_type(16)));
typedef unsigned char loom_u8x32 __attribute__((ext_vector_type(32)));

/// 1 where the selects below are one masked move (`kmovd` + `vmovdqu8`: AVX-512BW and VL),
/// 0 where they are the portable lane loops (callers then keep their own Swift forms).
#if defined(__AVX512BW__) && defined(__AVX512VL__)
#define LOOM_HAS_BIT_SELECT 1
#else
#define LOOM_HAS_BIT_SELECT 0
#endif

/// Lane i = bit i of `bits` ? ifSet[i] : ifClear[i], for 16 byte lanes. (Its own function
/// rather than the low half of the 32-lane one: that form made the Q5_1 float dot 13 % slower.)
static inline __attribute__((always_inline)) loom_u8x16 loom_select_bytes16(unsigned short bits, loom_u8x16 ifSet, loom_u8x16 ifClear) {
#if LOOM_HAS_BIT_SELECT
    typedef char v16qi __attribute__((vector_size(16)));
    return (loom_u8x16)__builtin_ia32_selectb_128(bits, (v16qi)ifSet, (v16qi)ifClear);
#else
    loom_u8x16 r;
    for (int i = 0; i < 16; i++) r[i] = (bits >> i) & 1 ? ifSet[i] : ifClear[i];
    return r;
#endif
}

/// Lane i = bit i of `bits` ? ifSet[i] : ifClear[i], for 32 byte lanes.
static inline __attribute__((always_inline)) loom_u8x32 loom_select_bytes32(unsigned int bits, loom_u8x32 ifSet, loom_u8x32 ifClear) {
#if LOOM_HAS_BIT_SELECT
    typedef char v32qi __attribute__((vector_size(32)));
    return (loom_u8x32)__builtin_ia32_selectb_256(bits, (v32qi)ifSet, (v32qi)ifClear);
#else
    loom_u8x32 r;
    for (int i = 0; i < 32; i++) r[i] = (bits >> i) & 1 ? ifSet[i] : ifClear[i];
    return r;
#endif
}

/// Vectors of 32 signed bytes and 8 32-bit integers (`SIMD32<Int8>`, `SIMD8<Int32>` in Swift).
typedef signed char loom_i8x32 __attribute__((ext_vector_type(32)));
typedef int loom_i32x8 __attribute__((ext_vector_type(8)));

/// 1 where ``loom_dot_bytes`` is one `vpdpbusd` (AVX-512 VNNI with VL, or AVX-VNNI), 0 where
/// it is the portable lane loop below (same integers, slower).
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
#define LOOM_HAS_BYTE_DOT 1
#else
#define LOOM_HAS_BYTE_DOT 0
#endif

/// Lane i = acc[i] + Σ_{k<4} u[4i+k]·s[4i+k]: unsigned bytes times signed bytes, four
/// products per 32-bit lane, exact (no saturation). Swift's SIMD types cannot express it, and
/// LLVM does not form `vpdpbusd` from the scalar loop (it widens to 16 bits and uses `vpmaddwd`,
/// which does 16 products per instruction where this does 32).
static inline __attribute__((always_inline)) loom_i32x8 loom_dot_bytes(loom_i32x8 acc, loom_u8x32 u, loom_i8x32 s) {
#if LOOM_HAS_BYTE_DOT
    typedef int v8si __attribute__((vector_size(32)));
    return (loom_i32x8)__builtin_ia32_vpdpbusd256((v8si)acc, (v8si)u, (v8si)s);
#else
    for (int i = 0; i < 8; i++) {
        int t = 0;
        for (int k = 0; k < 4; k++) t += (int)u[4 * i + k] * (int)s[4 * i + k];
        acc[i] += t;
    }
    return acc;
#endif
}

/// 1 where ``loom_affine_bytes32`` is one `vgf2p8affineqb` (GFNI with AVX), 0 where it is
/// the portable bit loop below.
#if defined(__GFNI__) && defined(__AVX__)
#define LOOM_HAS_BYTE_AFFINE 1
#else
#define LOOM_HAS_BYTE_AFFINE 0
#endif

/// Each byte x of `x` mapped through the 8×8 bit matrix of its 64-bit lane in `matrices`
/// (GF(2); bit i of the result is the parity of x AND byte 7 − i of the lane's matrix): any
/// per-lane combination of shifts and masks within a byte, in one instruction. Swift has no
/// spelling for it; LLVM emits it only for uniform byte shifts.
static inline __attribute__((always_inline)) loom_u8x32 loom_affine_bytes32(loom_u8x32 x, loom_u8x32 matrices) {
#if LOOM_HAS_BYTE_AFFINE
    typedef char v32qi __attribute__((vector_size(32)));
    return (loom_u8x32)__builtin_ia32_vgf2p8affineqb_v32qi((v32qi)x, (v32qi)matrices, 0);
#else
    loom_u8x32 r;
    for (int j = 0; j < 32; j++) {
        unsigned char out = 0;
        for (int i = 0; i < 8; i++) {
            unsigned char row = matrices[(j & ~7) + 7 - i];
            out |= (unsigned char)((__builtin_popcount(row & x[j]) & 1) << i);
        }
        r[j] = out;
    }
    return r;
#endif
}

/// Vectors of 32 16-bit integers and 16 32-bit integers (`SIMD32<Int16>`, `SIMD16<Int32>`).
typedef short loom_i16x32 __attribute__((ext_vector_type(32)));
typedef int loom_i32x16 __attribute__((ext_vector_type(16)));

/// 1 where ``loom_dot_words16`` is one 512-bit `vpdpwssd` (AVX-512 VNNI), 0 where it is the
/// portable lane loop below (same integers, slower: callers keep 256-bit Swift forms there).
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define LOOM_HAS_WIDE_WORD_DOT 1
#else
#define LOOM_HAS_WIDE_WORD_DOT 0
#endif

/// Lane i = acc[i] + a[2i]·b[2i] + a[2i+1]·b[2i+1], 16-bit signed products summed in 32 bits
/// (exact for the 10-bit codes used here), for 16 lanes. Swift can express the 256-bit form
/// (``pairProducts``), but its 512-bit form spills through the stack.
static inline __attribute__((always_inline)) loom_i32x16 loom_dot_words16(loom_i32x16 acc, loom_i16x32 a, loom_i16x32 b) {
#if LOOM_HAS_WIDE_WORD_DOT
    typedef int v16si __attribute__((vector_size(64)));
    return (loom_i32x16)__builtin_ia32_vpdpwssd512((v16si)acc, (v16si)a, (v16si)b);
#else
    for (int i = 0; i < 16; i++) acc[i] += (int)a[2 * i] * (int)b[2 * i] + (int)a[2 * i + 1] * (int)b[2 * i + 1];
    return acc;
#endif
}

/// Vectors of 16 16-bit integers (`SIMD16<Int16>` in Swift).
typedef short loom_i16x16 __attribute__((ext_vector_type(16)));

/// 1 where ``loom_madd_unsigned_bytes`` is one `vpmaddubsw` (AVX2), 0 where it is the portable
/// lane loop below (same integers, slower).
#if defined(__AVX2__)
#define LOOM_HAS_UNSIGNED_BYTE_MADD 1
#else
#define LOOM_HAS_UNSIGNED_BYTE_MADD 0
#endif

/// Lane i = u[2i]·s[2i] + u[2i+1]·s[2i+1] saturated to 16 bits: unsigned bytes times signed
/// bytes, two products per 16-bit lane (the ternary kernels feed codes 0...2 and activations
/// within ±127, so it never saturates there). The AVX2 byte multiply-add llama.cpp's ternary
/// kernels are built on; Swift's SIMD types cannot express it, and LLVM forms it only from a
/// saturating pattern Swift has no spelling for (without it, the same products take two
/// `vpmaddwd` on widened 16-bit codes).
static inline __attribute__((always_inline)) loom_i16x16 loom_madd_unsigned_bytes(loom_u8x32 u, loom_i8x32 s) {
#if LOOM_HAS_UNSIGNED_BYTE_MADD
    typedef char v32qi __attribute__((vector_size(32)));
    return (loom_i16x16)__builtin_ia32_pmaddubsw256((v32qi)u, (v32qi)s);
#else
    loom_i16x16 r;
    for (int i = 0; i < 16; i++) {
        int t = (int)u[2 * i] * (int)s[2 * i] + (int)u[2 * i + 1] * (int)s[2 * i + 1];
        r[i] = (short)(t > 32767 ? 32767 : t < -32768 ? -32768 : t);
    }
    return r;
#endif
}

/// Vectors of 8 32-bit integers from 16 16-bit lanes: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1]
/// (`vpmaddwd` on AVX2, the portable loop elsewhere; exact). Swift's widening form of it
/// compiles to `vpmaddwd` when both operands vary, but with a constant operand (b = 1, to
/// sum adjacent pairs) LLVM folds the multiply away into blends, shifts and packs.
static inline __attribute__((always_inline)) loom_i32x8 loom_madd_words(loom_i16x16 a, loom_i16x16 b) {
#if defined(__AVX2__)
    typedef short v16hi __attribute__((vector_size(32)));
    typedef int v8si __attribute__((vector_size(32)));
    return (loom_i32x8)__builtin_ia32_pmaddwd256((v16hi)a, (v16hi)b);
#else
    loom_i32x8 r;
    for (int i = 0; i < 8; i++) r[i] = (int)a[2 * i] * (int)b[2 * i] + (int)a[2 * i + 1] * (int)b[2 * i + 1];
    return r;
#endif
}

#endif
