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

#endif
