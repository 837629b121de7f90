// The lane groups of ``IntegerPromptKernel``: how many tokens share one vector of 32-bit
// sums, and the pairwise 16-bit multiply-add that fills it.
//
// Eight tokens (256 bits) are what Swift's SIMD types turn into `vpdpwssd` by themselves
// (``pairProducts(_:_:)``); their 512-bit form spills through the stack. Where the CPU has
// AVX-512 VNNI, sixteen tokens share a 512-bit vector through ``loom_dot_words16`` (a C
// intrinsic, LoomIntrinsics): twice the multiply-adds per instruction for the same loads of
// weight codes. Each lane still does exactly one token's arithmetic, so both widths give the
// same bits.
//
// Sixteen lanes measured much faster than eight, for the kernel alone, the whole `MatMul`
// and whole prompts (`scripts/bench_prompt_kernel.swift`, `loom bench`; BENCHMARKS.md,
// "Kernel design measurements").
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

/// One group of tokens in vector lanes, for ``IntegerPromptKernel``.
protocol PromptLaneGroup {
    /// One 32-bit integer sum per token.
    associatedtype Sums: SIMD where Sums.Scalar == Int32
    /// One float per token.
    associatedtype Floats: SIMD where Floats.Scalar == Float
    /// Two 16-bit codes per token (columns k and k + 1).
    associatedtype Pairs
    /// Tokens per group.
    static var lanes: Int { get }
    /// Pairs of all the group's tokens at `p`.
    static func load(_ p: UnsafeRawPointer) -> Pairs
    /// One 32-bit word (two 16-bit codes) in every token's lane.
    static func broadcast(_ word: UInt32) -> Pairs
    /// `acc + (x[2i]·w[2i] + x[2i+1]·w[2i+1])` per lane i.
    static func dot(_ acc: Sums, _ x: Pairs, _ w: Pairs) -> Sums
    /// The sums converted to float.
    static func floats(_ s: Sums) -> Floats
}

/// Eight tokens per group (256 bits): plain Swift that LLVM makes `vpdpwssd` of.
enum NarrowPromptLanes: PromptLaneGroup {
    static var lanes: Int { 8 }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> SIMD16<Int16> { p.loadUnaligned(as: SIMD16<Int16>.self) }
    @inline(__always) static func broadcast(_ word: UInt32) -> SIMD16<Int16> {
        unsafeBitCast(SIMD8<UInt32>(repeating: word), to: SIMD16<Int16>.self)
    }
    @inline(__always) static func dot(_ acc: SIMD8<Int32>, _ x: SIMD16<Int16>, _ w: SIMD16<Int16>) -> SIMD8<Int32> {
        acc &+ pairProducts(x, w)
    }
    @inline(__always) static func floats(_ s: SIMD8<Int32>) -> SIMD8<Float> { LoomKernels.floats(s) }
}

/// Sixteen tokens per group (512 bits), for CPUs with AVX-512 VNNI.
enum WidePromptLanes: PromptLaneGroup {
    static var lanes: Int { 16 }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> SIMD32<Int16> { p.loadUnaligned(as: SIMD32<Int16>.self) }
    @inline(__always) static func broadcast(_ word: UInt32) -> SIMD32<Int16> {
        unsafeBitCast(SIMD16<UInt32>(repeating: word), to: SIMD32<Int16>.self)
    }
    @inline(__always) static func dot(_ acc: SIMD16<Int32>, _ x: SIMD32<Int16>, _ w: SIMD32<Int16>) -> SIMD16<Int32> {
        #if canImport(LoomIntrinsics)
        return loom_dot_words16(acc, x, w)
        #else
        var r = acc
        for i in 0..<16 { r[i] &+= Int32(x[2 * i]) &* Int32(w[2 * i]) &+ Int32(x[2 * i + 1]) &* Int32(w[2 * i + 1]) }
        return r
        #endif
    }
    @inline(__always) static func floats(_ s: SIMD16<Int32>) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for i in 0..<16 { r[i] = Float(s[i]) }
        return r
    }
}

extension IntegerPromptKernel {
    /// Whether the prompt kernel runs 16-token groups (a compile-time constant: 512-bit
    /// `vpdpwssd` on this build's target CPU).
    static var isWide: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_WIDE_WORD_DOT != 0
        #else
        return false
        #endif
    }
}
