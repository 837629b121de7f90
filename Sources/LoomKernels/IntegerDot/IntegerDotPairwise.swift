// Integer row·activation kernels built on 16×16 → 32-bit multiply-adds of adjacent pairs
// (`vpmaddwd`, and `vpdpwssd` on AVX-512 VNNI; `smull`/`smlal` on arm64).
//
// Swift has no intrinsic for those instructions, and lane-level formulations (pairwise
// products into `SIMD8<Int32>`, even/odd halves) compile to shuffles. What LLVM does turn
// into them is a plain scalar loop accumulating `Int32(a[i]) &* Int32(x[i])` over memory:
// the loop vectoriser makes it one `<32 × i32>` multiply-reduction, and the X86 partial-
// reduction pass rewrites that as two `vpmaddwd` (the second fused into `vpdpwssd`), then
// one horizontal reduction. So each block here is such a 32-element loop over signed
// weight codes (in memory, or in a 32-byte stack buffer the optimiser keeps in registers)
// and the block's activation codes. Products are exact in 32 bits for any 8-bit weight and
// 10-bit activation code, which is what makes an integer Q8_0 kernel possible at all (16-bit
// lanes overflow for 8 × 10 bits).
//
// Measured faster than the 16-bit lanes for Q4_0 and Q5_0, and than the float kernel for Q8_0
// (BENCHMARKS.md, "Kernel design measurements"). Q4_1 and Q5_1 use the same 32-bit block sums
// with one float chain per row instead (IntegerDotOffset.swift), the arithmetic their batch
// kernel reproduces; a Q6_K version (scales folded into 16-bit weights) was slower than its
// float kernel.

/// Σ q[i]·x[i] over 32 signed byte codes and 32 activation codes.
@inline(__always)
func codeDot32(_ q: UnsafePointer<Int8>, _ x: UnsafePointer<Int16>) -> Int32 {
    var t: Int32 = 0
    for i in 0..<32 { t &+= Int32(q[i]) &* Int32(x[i]) }
    return t
}

/// ``codeDot32(_:_:)`` for codes held in two byte vectors (elements 0..<16, 16..<32).
@inline(__always)
func codeDot32(_ low: SIMD16<UInt8>, _ high: SIMD16<UInt8>, _ x: UnsafePointer<Int16>) -> Int32 {
    var codes = (low, high)
    return withUnsafeBytes(of: &codes) { codeDot32($0.baseAddress!.assumingMemoryBound(to: Int8.self), x) }
}

/// The fp16 fields at `base + offset + k·stride` for k = 0..<4, as floats (the scales of
/// four consecutive blocks).
/// (Gathered as 16-bit lanes and converted together: one `vcvtph2ps` instead of four.)
@inline(__always)
func loadHalves4(_ base: UnsafeRawPointer, stride: Int, offset: Int) -> SIMD4<Float> {
    var h = SIMD4<UInt16>()
    for k in 0..<4 { h[k] = base.loadUnaligned(fromByteOffset: offset + k * stride, as: UInt16.self) }
    var d = SIMD4<Float>()
    #if arch(x86_64) && os(macOS)
    for k in 0..<4 { d[k] = halfToFloat(h[k]) }
    #else
    for k in 0..<4 { d[k] = Float(Float16(bitPattern: h[k])) }
    #endif
    return d
}

/// A 32-element block format without offset (`half d` at byte 0, value = q·d with signed
/// q) for ``pairwiseDot(_:_:_:blocks:)``.
protocol PairwiseIntegerBlock {
    static var bytes: Int { get }
    /// The constant c subtracted from the stored codes ``codeSum(_:_:)`` uses (8 for Q4_0,
    /// 16 for Q5_0): value = (q − c)·d. ``pairwiseDot(_:_:_:blocks:)`` subtracts c·Σx per
    /// block, with the code sums kept by the activations, rather than c from every code:
    /// the same integer, two instructions per block fewer (Q5_0 decode rows measured faster).
    static var codeOffset: Int32 { get }
    /// Σ (q − c + ``codeOffset``)·x over the block at `p` and the 32 activation codes at `x`:
    /// the stored codes q before subtracting ``codeOffset`` (c itself when that is 0).
    static func codeSum(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> Int32
}

/// Σ over the row of d·d_x·(Σ q·x of the block). Four blocks per step: their integer sums
/// are converted, and their scales loaded and converted, as one 4-lane vector each (measured
/// 10–15 % faster than two blocks with scalar scales).
@inline(__always)
func pairwiseDot<K: PairwiseIntegerBlock>(_: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
    var acc = SIMD4<Float>()
    var b = 0
    while b + 4 <= blocks {
        let p = row + K.bytes * b
        let x = a.codes + 32 * b
        var t = SIMD4<Int32>(K.codeSum(p, x), K.codeSum(p + K.bytes, x + 32),
                             K.codeSum(p + 2 * K.bytes, x + 64), K.codeSum(p + 3 * K.bytes, x + 96))
        if K.codeOffset != 0 { t &-= K.codeOffset &* UnsafeRawPointer(a.codeSums + b).loadUnaligned(as: SIMD4<Int32>.self) }
        let xd = UnsafeRawPointer(a.scales + b).loadUnaligned(as: SIMD4<Float>.self)
        acc.addProduct(floats(t), loadHalves4(p, stride: K.bytes, offset: 0) * xd)
        b += 4
    }
    var sum = horizontalSum(acc)
    while b < blocks {
        sum += pairwiseStep(K.self, row, a, b)
        b += 1
    }
    return sum
}

/// Block `b` of ``pairwiseDot(_:_:_:blocks:)`` on its own (the last `blocks % 4`). Only d
/// is needed, and LLVM narrows any load of it to a 16-bit `vpinsrw` that merges into the
/// accumulator register (a false dependency chaining every block to the previous one).
/// Masking the 32-bit word with a mask it cannot see is 0xFFFF (``ActivationBlocks/lowHalfMask``)
/// keeps the load 32 bits wide; the second half is then +0 and adding it changes nothing.
@inline(__always)
func pairwiseStep<K: PairwiseIntegerBlock>(_: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, _ b: Int) -> Float {
    let p = row + K.bytes * b
    let dz = halfPairToFloats(p.loadUnaligned(as: UInt32.self) & a.lowHalfMask)
    return Float(K.codeSum(p, a.codes + 32 * b) &- K.codeOffset &* a.codeSums[b]) * (dz[0] * a.scales[b] + dz[1])
}

extension BlockQ8_0: PairwiseIntegerBlock {
    static var codeOffset: Int32 { 0 }

    /// Σ q·x over the block's 32 signed byte codes.
    @inline(__always)
    static func codeSum(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> Int32 {
        codeDot32((p + 2).assumingMemoryBound(to: Int8.self), x)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        pairwiseDot(Self.self, row, a, blocks: blocks)
    }
}

extension BlockQ4_0: PairwiseIntegerBlock {
    static var codeOffset: Int32 { 8 }

    /// Σ q·x over the block's 32 stored codes 0...15 (low nibbles first).
    @inline(__always)
    static func codeSum(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> Int32 {
        let q = (p + 2).assumingMemoryBound(to: UInt8.self)
        var t: Int32 = 0
        for i in 0..<16 {
            let byte = q[i]
            t &+= Int32(Int16(byte & 0x0F)) &* Int32(x[i]) &+ Int32(Int16(byte &>> 4)) &* Int32(x[i + 16])
        }
        return t
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.isFast ? byteDotRow(Self.self, row, a, blocks: blocks) : pairwiseDot(Self.self, row, a, blocks: blocks)
    }
}

extension BlockQ5_0: PairwiseIntegerBlock {
    /// 16 with the mask-register fifth bits; 0 (the codes are offset in bytes instead) with
    /// the portable ones, where LLVM folds the subtraction into the bit merge and the offset
    /// form measured slower without LoomIntrinsics (BENCHMARKS.md, "Kernel design measurements").
    static var codeOffset: Int32 { fifthBitsUseMaskRegister ? 16 : 0 }

    /// Σ (q + ``codeOffset`` − 16)·x over the block's 32 five-bit codes q.
    @inline(__always)
    static func codeSum(_ p: UnsafeRawPointer, _ x: UnsafePointer<Int16>) -> Int32 {
        let h = fifthBitsOfWord(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let qs = loadBytes16(p, 6)
        if fifthBitsUseMaskRegister { return codeDot32((qs & 0x0F) | h.low, (qs &>> 4) | h.high, x) }
        return codeDot32(((qs & 0x0F) | h.low) &- 16, ((qs &>> 4) | h.high) &- 16, x)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.isFast ? byteDotRow(Self.self, row, a, blocks: blocks) : pairwiseDot(Self.self, row, a, blocks: blocks)
    }
}
