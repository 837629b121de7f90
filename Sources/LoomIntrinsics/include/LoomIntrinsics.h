// CPU hints Swift has no spelling for. Header-only: Swift inlines these static inline
// functions into its callers, so each is a single instruction in the kernel loops.
#ifndef LOOM_INTRINSICS_H
#define LOOM_INTRINSICS_H

/// Asks for the cache line at `p` to be brought into the L2 cache ahead of a read
/// (`prefetcht1` on x86-64, `prfm pldl2keep` on arm64). A hint only: it never faults and
/// never changes a result.
static inline __attribute__((always_inline)) void loom_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 2);
}

#endif
