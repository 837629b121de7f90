// Decode rows of the 32-element formats with an offset (Q4_1, Q5_1) on the 10-bit activation
// codes, where the byte dot is not native (IntegerDotBytes.swift has the kernel where it is).
//
// The arithmetic is chosen so that a batch of decode rows can share the weights and still
// get it exactly (issue 26: speculative verification and `--deterministic` server steps must
// give every row what a one-token product gives it). Per row, with f = 0:
//
//     for every block b:  t = Σ q·x  (exact, in 32 bits)
//                         f = fma(Float(t), d·d_x, f)
//                         f = fma(m, d_x·Σx, f)
//
// One float chain per row, in block order. That is exactly what ``IntegerLaneBatchKernel``
// computes for each token in its lanes (it was written for the server's small batches and
// keeps one float accumulator per row and token), so tokens-in-lanes is bit-identical to the
// per-token kernels here and ``MatMul``'s batch-invariant decode rows run it (8 tokens per
// pass, each weight block unpacked once for all of them) instead of the one-token kernel per
// token. The earlier 16-bit kernel kept 16 float partial sums per row and rounded
// differently, so no batch kernel could reproduce it.
//
// A single chain per row is latency-bound (two dependent FMAs per block), so decode takes
// four rows at a time (``offsetDotFourRows``), one row per float lane: every lane runs the
// same operations, so a row's value does not depend on its group (``MatMul``'s four-row
// scheduling relies on that). Per block the integer sums come from `vpmaddwd` on the
// unpacked codes (``pairProducts(_:_:)``), and the four rows' sums are reduced together.
// The ranges: |t| ≤ 32·31·511 < 2²⁴, so Float(t) is exact.

/// A 32-element block format with an offset: `half d` at byte 0, `half m` at byte 2,
/// unsigned codes q, value = q·d + m.
protocol OffsetIntegerBlock {
    static var bytes: Int { get }
    /// Σ q·x over the block at `p` and the activation codes `x0` (elements 0..<16) and `x1`
    /// (16..<32), spread over 8 lanes (adjacent elements added in 32 bits).
    static func codeProducts(_ p: UnsafeRawPointer, _ x0: SIMD16<Int16>, _ x1: SIMD16<Int16>) -> SIMD8<Int32>
}

extension BlockQ4_1: OffsetIntegerBlock {
    @inline(__always)
    static func codeProducts(_ p: UnsafeRawPointer, _ x0: SIMD16<Int16>, _ x1: SIMD16<Int16>) -> SIMD8<Int32> {
        let qs = loadBytes16(p, 4)
        return pairProducts(widenUnsigned(qs & 0x0F), x0) &+ pairProducts(widenUnsigned(qs &>> 4), x1)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.isNative ? byteDotRow(Self.self, row, a, blocks: blocks) : offsetDot(Self.self, row, a, blocks: blocks)
    }
}

extension BlockQ5_1: OffsetIntegerBlock {
    @inline(__always)
    static func codeProducts(_ p: UnsafeRawPointer, _ x0: SIMD16<Int16>, _ x1: SIMD16<Int16>) -> SIMD8<Int32> {
        let h = fifthBitsOfWord(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let qs = loadBytes16(p, 8)
        return pairProducts(widenUnsigned((qs & 0x0F) | h.low), x0) &+ pairProducts(widenUnsigned((qs &>> 4) | h.high), x1)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.isNative ? byteDotRow(Self.self, row, a, blocks: blocks) : offsetDot(Self.self, row, a, blocks: blocks)
    }
}

/// One row of the chained arithmetic in the file header, spelled out scalar: the reference
/// the four-row and tokens-in-lanes kernels reproduce lane for lane.
@inline(__always)
func offsetDot<K: OffsetIntegerBlock>(_: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
    var f: Float = 0
    for b in 0..<blocks {
        let p = row + K.bytes * b
        let t = K.codeProducts(p, loadCodes16(a.codes + 32 * b), loadCodes16(a.codes + 32 * b + 16)).wrappedSum()
        let dm = halfPairToFloats(p.loadUnaligned(as: UInt32.self))
        f = f.addingProduct(Float(t), dm[0] * a.scales[b])
        f = f.addingProduct(dm[1], a.sums[b])
    }
    return f
}

/// ``offsetDot(_:_:_:blocks:)`` for the four rows at `row + k·rowBytes` (k = 0..<4), one per
/// lane, each bit-identical to the row alone (`rowBytes` = 0 repeats one row).
@inline(__always)
func offsetDotFourRows<K: OffsetIntegerBlock>(_: K.Type, _ row: UnsafeRawPointer, rowBytes: Int, _ a: ActivationBlocks, blocks: Int) -> SIMD4<Float> {
    var f = SIMD4<Float>()
    for b in 0..<blocks {
        let p = row + K.bytes * b
        let x0 = loadCodes16(a.codes + 32 * b), x1 = loadCodes16(a.codes + 32 * b + 16)
        let t = rowSums(K.codeProducts(p, x0, x1), K.codeProducts(p + rowBytes, x0, x1),
                        K.codeProducts(p + 2 * rowBytes, x0, x1), K.codeProducts(p + 3 * rowBytes, x0, x1))
        // d and m of the four rows: one 32-bit word each, converted together.
        var words = SIMD4<UInt32>()
        for k in 0..<4 { words[k] = p.loadUnaligned(fromByteOffset: k * rowBytes, as: UInt32.self) }
        let dm = halvesToFloats(unsafeBitCast(words, to: SIMD8<UInt16>.self))
        f.addProduct(floats(t), dm.evenHalf * SIMD4(repeating: a.scales[b]))
        f.addProduct(dm.oddHalf, SIMD4(repeating: a.sums[b]))
    }
    return f
}

/// The lane sums of four 8-lane integer vectors, as one vector (exact in any order).
@inline(__always)
func rowSums(_ v0: SIMD8<Int32>, _ v1: SIMD8<Int32>, _ v2: SIMD8<Int32>, _ v3: SIMD8<Int32>) -> SIMD4<Int32> {
    let s0 = v0.lowHalf &+ v0.highHalf, s1 = v1.lowHalf &+ v1.highHalf
    let s2 = v2.lowHalf &+ v2.highHalf, s3 = v3.lowHalf &+ v3.highHalf
    let t01 = SIMD4(s0[0], s1[0], s0[2], s1[2]) &+ SIMD4(s0[1], s1[1], s0[3], s1[3])
    let t23 = SIMD4(s2[0], s3[0], s2[2], s3[2]) &+ SIMD4(s2[1], s3[1], s2[3], s3[3])
    return SIMD4(t01[0], t01[1], t23[0], t23[1]) &+ SIMD4(t01[2], t01[3], t23[2], t23[3])
}
