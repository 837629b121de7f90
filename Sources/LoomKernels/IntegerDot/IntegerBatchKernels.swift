// Integer matrix products for small batches of tokens (a server decode step: one token per
// active sequence, 2 ≤ tokens < 16), against ``QuantizedActivationBatch``.
//
// A batch step is compute-bound, not memory-bound like single-token decode: every weight is
// used by every token. The float path dequantises a tile of rows to f32 once and runs a
// 4 × 4 f32 dot kernel; ≈ 30 % of its time is the dequantisation. Here each row's blocks
// are unpacked once to 16-bit codes in "pair order" (lane j of a block = codes j and j + 16)
// in per-worker scratch, and the activations are kept in the same order, so per block and
// token two integer multiply-add instructions give eight exact partial sums
// (``quadProducts(_:_:)``), then one conversion and two float operations scale them by the
// activation scale d_x (a broadcast memory operand) and the block scale d (shared by all
// tokens). Offset formats (Q4_1, Q5_1) add m·(d_x·Σ codes) per block, eight tokens per
// vector operation. Up to eight tokens go through per pass over an unpacked row (one
// accumulator per token), a remainder of 1–4 through a four-token pass; lanes beyond the
// batch read token 0 and padded (zero) scales, and are discarded.
//
// The integer sums are exact and the activation codes are those of the single-token kernels
// (``QuantizedActivations``), so each token's result equals ``IntegerRowKernels/dot`` up to
// float summation order (relative differences ~1e-6; not bit-identical: four products per
// lane and P·d_x·d instead of P·(d·d_x) were both measurably faster).
//
// Each step to this form (four products per lane, eight tokens per pass, d_x as a broadcast
// operand) measured faster with the weights out of cache, as in a real model; the result is
// faster than the float path for every format and batch size measured, and raised `loom serve`
// throughput (scripts/bench_batch_kernels.swift, load_check; BENCHMARKS.md, "Kernel design
// measurements").
// The loop is now close to the load-port limit (≈ 3 loads per block and token). Two rows ×
// four tokens per pass would share the activation loads, but LLVM then no longer forms
// `vpmaddwd` from ``quadProducts(_:_:)`` (vpmulld + shuffles, 2× slower), so it is not done.
// In `loom serve --parallel 8` these kernels are most of the time. Used only where
// `MatMul.multiply` is called with `.decode` rows and without `batchInvariant` (decode steps; see there why not
// prompts).

/// Pointers into a ``QuantizedActivationBatch``: token t's codes (in pair order) start at
/// `pairs + t·columns`; its scale and code sum (d_x·Σ codes) of block b are at
/// `[b·stride + t]` of `scalesByBlock` / `sumsByBlock`, where `stride` ≥ tokens + 8 and the
/// lanes past the last token hold zeros (so eight-lane loads never leave the buffer).
struct BatchActivationBlocks {
    let pairs: UnsafePointer<Int16>
    let scalesByBlock: UnsafePointer<Float>
    let sumsByBlock: UnsafePointer<Float>
    let columns: Int
    let tokens: Int
    let stride: Int

    var blocks: Int { columns / 32 }
}

/// Small-batch integer kernels (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
public enum IntegerBatchKernels {
    /// Whether `type` has a batch kernel.
    @inlinable public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return true
        default: return false
        }
    }

    /// `y[t·ldy + r] = row r · token t` (+ bias[r]) for `rows` and every token of `a`;
    /// `scratch` holds one row's unpacked codes (2·columns bytes).
    static func multiply(
        _ type: GGMLType, _ w: WeightMatrix, rows: Range<Int>, _ a: BatchActivationBlocks,
        into y: UnsafeMutablePointer<Float>, ldy: Int, bias: UnsafePointer<Float>?, scratch: UnsafeMutableRawPointer
    ) {
        precondition(w.columns == a.columns, "IntegerBatchKernels: \(w.columns) columns, activations of \(a.columns)")
        let codes = scratch.bindMemory(to: Int16.self, capacity: a.columns)
        switch type {
        case .q4_1: batchRows(BlockQ4_1.self, w, rows, a, y, ldy, bias, codes)
        case .q5_1: batchRows(BlockQ5_1.self, w, rows, a, y, ldy, bias, codes)
        case .q4_0: batchRows(BlockQ4_0.self, w, rows, a, y, ldy, bias, codes)
        case .q5_0: batchRows(BlockQ5_0.self, w, rows, a, y, ldy, bias, codes)
        case .q8_0: batchRows(BlockQ8_0.self, w, rows, a, y, ldy, bias, codes)
        default: fatalError("IntegerBatchKernels: no batch kernel for \(type)")
        }
    }

    /// `y[t·columns... ]` convenience for tests: `tokens` rows of `x` times every row of `w`
    /// into `y` (`[tokens × w.rows]`).
    public static func multiply(
        _ w: WeightMatrix, _ activations: QuantizedActivationBatch, into y: UnsafeMutablePointer<Float>
    ) {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 2 * w.columns, alignment: 64)
        defer { scratch.deallocate() }
        multiply(w.type, w, rows: 0..<w.rows, activations.blocks, into: y, ldy: w.rows, bias: nil, scratch: scratch)
    }
}

/// A 32-element block format whose codes the batch kernels unpack into pairs.
protocol BatchIntegerBlock {
    static var bytes: Int { get }
    /// Lane j: code j in the low 16 bits, code j + 16 in the high 16 bits (signed codes as
    /// two's complement halves; offset formats keep their unsigned codes).
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32>
    /// Whether the block stores `half d, half m` with value q·d + m (else `half d`, q·d).
    static var batchHasOffset: Bool { get }
}

/// Bytes → 32-bit lanes (zero-extended).
@inline(__always)
func widenToWords(_ v: SIMD16<UInt8>) -> SIMD16<UInt32> {
    var r = SIMD16<UInt32>()
    for i in 0..<16 { r[i] = UInt32(v[i]) }
    return r
}

/// Low and high 16-bit halves → one lane (the low half masked to 16 bits).
@inline(__always)
func packPairs(_ low: SIMD16<UInt32>, _ high: SIMD16<UInt32>) -> SIMD16<UInt32> {
    (low & 0xFFFF) | (high &<< 16)
}

extension BlockQ4_1: BatchIntegerBlock {
    static var batchHasOffset: Bool { true }
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let b = widenToWords(loadBytes16(p, 4))
        return (b & 0x0F) | ((b & 0xF0) &<< 12)
    }
}

extension BlockQ5_1: BatchIntegerBlock {
    static var batchHasOffset: Bool { true }
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let h = fifthBitsOfWord(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let qs = loadBytes16(p, 8)
        return widenToWords((qs & 0x0F) | h.low) | (widenToWords((qs &>> 4) | h.high) &<< 16)
    }
}

extension BlockQ4_0: BatchIntegerBlock {
    static var batchHasOffset: Bool { false }
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let b = widenToWords(loadBytes16(p, 2))
        return packPairs((b & 0x0F) &- 8, (b &>> 4) &- 8)
    }
}

extension BlockQ5_0: BatchIntegerBlock {
    static var batchHasOffset: Bool { false }
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let h = fifthBitsOfWord(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let qs = loadBytes16(p, 6)
        return packPairs(widenToWords((qs & 0x0F) | h.low) &- 16, widenToWords((qs &>> 4) | h.high) &- 16)
    }
}

extension BlockQ8_0: BatchIntegerBlock {
    static var batchHasOffset: Bool { false }
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let low = loadBytes16(p, 2), high = loadBytes16(p, 18)
        var l = SIMD16<UInt32>(), h = SIMD16<UInt32>()
        for i in 0..<16 {
            l[i] = UInt32(bitPattern: Int32(Int8(bitPattern: low[i])))
            h[i] = UInt32(bitPattern: Int32(Int8(bitPattern: high[i])))
        }
        return packPairs(l, h)
    }
}

/// Lane j (0..<8) = the four products of pairs j and j + 8 of a block in pair order
/// (`w[2j]·x[2j] + w[2j+1]·x[2j+1] + w[2j+16]·x[2j+16] + w[2j+17]·x[2j+17]`, exact in 32
/// bits): one `vpmaddwd` and one `vpdpwssd` on 256-bit registers. Written as scalar loops
/// over two memory operands because that is the form LLVM turns into those instructions;
/// with the weights as a register value (even laundered through an opaque XOR) it split
/// the products into `vpmulld` + shifts, ≈ 3× slower. Four products per lane rather than two
/// (one 512-bit `vpmaddwd`) halve the float conversions and multiply-adds that follow.
@inline(__always)
func quadProducts(_ w: UnsafePointer<Int16>, _ x: UnsafePointer<Int16>) -> SIMD8<Int32> {
    // Two separate 8-lane loops added as vectors: one loop with four products per lane
    // was not vectorised at all (scalar code, 5× slower).
    var low = SIMD8<Int32>(), high = SIMD8<Int32>()
    withUnsafeMutableBytes(of: &low) { rb in
        let rp = rb.baseAddress!.assumingMemoryBound(to: Int32.self)
        for j in 0..<8 { rp[j] = Int32(w[2 * j]) &* Int32(x[2 * j]) &+ Int32(w[2 * j + 1]) &* Int32(x[2 * j + 1]) }
    }
    withUnsafeMutableBytes(of: &high) { rb in
        let rp = rb.baseAddress!.assumingMemoryBound(to: Int32.self)
        for j in 0..<8 { rp[j] = Int32(w[2 * j + 16]) &* Int32(x[2 * j + 16]) &+ Int32(w[2 * j + 17]) &* Int32(x[2 * j + 17]) }
    }
    return low &+ high
}

/// Unpacks the `blocks` blocks of a row into pair-ordered 16-bit codes at `w` (32 per block).
@inline(__always)
func unpackPairs<K: BatchIntegerBlock>(_: K.Type, _ row: UnsafeRawPointer, blocks: Int, into w: UnsafeMutablePointer<Int16>) {
    let raw = UnsafeMutableRawPointer(w)
    for b in 0..<blocks {
        raw.storeBytes(of: K.pairedCodes(row + b * K.bytes), toByteOffset: 64 * b, as: SIMD16<UInt32>.self)
    }
}

/// Eight tokens' float accumulators (separate values so they live in registers).
struct EightAccumulators {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
}

/// Every row of `rows` times every token: each row unpacked once, then passes of up to
/// eight tokens.
@inline(__always)
func batchRows<K: BatchIntegerBlock>(
    _: K.Type, _ w: WeightMatrix, _ rows: Range<Int>, _ a: BatchActivationBlocks,
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ bias: UnsafePointer<Float>?, _ codes: UnsafeMutablePointer<Int16>
) {
    for r in rows {
        let row = w.row(r)
        unpackPairs(K.self, row, blocks: a.blocks, into: codes)
        var t0 = 0
        while t0 < a.tokens {
            let count = min(8, a.tokens - t0)
            let sums = count > 4 ? rowTimesEight(K.self, row, a, t0, count, codes) : rowTimesFour(K.self, row, a, t0, count, codes)
            let extra = bias?[r] ?? 0
            for t in 0..<count { y[(t0 + t) * ldy + r] = sums[t] + extra }
            t0 += count
        }
    }
}

/// Token `t0 + i` for lane `i`, or token 0 for lanes beyond the batch (results discarded).
@inline(__always)
func laneToken(_ a: BatchActivationBlocks, _ t0: Int, _ i: Int, _ count: Int) -> UnsafePointer<Int16> {
    a.pairs + (i < count ? t0 + i : 0) * a.columns
}

/// One unpacked row times tokens `t0 ..< t0 + count` (count ≤ 8), the sums in lanes.
@inline(__always)
func rowTimesEight<K: BatchIntegerBlock>(
    _: K.Type, _ row: UnsafeRawPointer, _ a: BatchActivationBlocks, _ t0: Int, _ count: Int,
    _ codes: UnsafeMutablePointer<Int16>
) -> SIMD8<Float> {
    let stride = a.stride
    let x0 = laneToken(a, t0, 0, count), x1 = laneToken(a, t0, 1, count), x2 = laneToken(a, t0, 2, count)
    let x3 = laneToken(a, t0, 3, count), x4 = laneToken(a, t0, 4, count), x5 = laneToken(a, t0, 5, count)
    let x6 = laneToken(a, t0, 6, count), x7 = laneToken(a, t0, 7, count)
    let xs = a.scalesByBlock + t0, xm = a.sumsByBlock + t0
    var acc = EightAccumulators()
    var off = SIMD8<Float>()
    for b in 0..<a.blocks {
        let p = row + b * K.bytes
        let q = UnsafePointer(codes + 32 * b)
        let dm = loadHalves8(p, 0)
        let o = 32 * b
        // (P·d_x)·d: the token scale as a broadcast memory operand of the multiply, the
        // block scale d shared by all tokens (one uop fewer per token than forming d·d_x
        // first and broadcasting it from a register).
        let d = SIMD8<Float>(repeating: dm[0])
        let s = xs + b * stride
        acc.a0.addProduct(floats(quadProducts(q, x0 + o)) * s[0], d)
        acc.a1.addProduct(floats(quadProducts(q, x1 + o)) * s[1], d)
        acc.a2.addProduct(floats(quadProducts(q, x2 + o)) * s[2], d)
        acc.a3.addProduct(floats(quadProducts(q, x3 + o)) * s[3], d)
        acc.a4.addProduct(floats(quadProducts(q, x4 + o)) * s[4], d)
        acc.a5.addProduct(floats(quadProducts(q, x5 + o)) * s[5], d)
        acc.a6.addProduct(floats(quadProducts(q, x6 + o)) * s[6], d)
        acc.a7.addProduct(floats(quadProducts(q, x7 + o)) * s[7], d)
        if K.batchHasOffset {
            off.addProduct(SIMD8(repeating: dm[1]), UnsafeRawPointer(xm + b * stride).loadUnaligned(as: SIMD8<Float>.self))
        }
    }
    let sums = SIMD8<Float>(horizontalSum(acc.a0), horizontalSum(acc.a1), horizontalSum(acc.a2), horizontalSum(acc.a3),
                            horizontalSum(acc.a4), horizontalSum(acc.a5), horizontalSum(acc.a6), horizontalSum(acc.a7))
    return sums + off
}

/// ``rowTimesEight`` for at most four tokens (lanes 4–7 of the result are zero).
@inline(__always)
func rowTimesFour<K: BatchIntegerBlock>(
    _: K.Type, _ row: UnsafeRawPointer, _ a: BatchActivationBlocks, _ t0: Int, _ count: Int,
    _ codes: UnsafeMutablePointer<Int16>
) -> SIMD8<Float> {
    let stride = a.stride
    let x0 = laneToken(a, t0, 0, count), x1 = laneToken(a, t0, 1, count)
    let x2 = laneToken(a, t0, 2, count), x3 = laneToken(a, t0, 3, count)
    let xs = a.scalesByBlock + t0, xm = a.sumsByBlock + t0
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var off = SIMD4<Float>()
    for b in 0..<a.blocks {
        let p = row + b * K.bytes
        let q = UnsafePointer(codes + 32 * b)
        let dm = loadHalves8(p, 0)
        let o = 32 * b
        let d = SIMD8<Float>(repeating: dm[0])
        let s = xs + b * stride
        acc0.addProduct(floats(quadProducts(q, x0 + o)) * s[0], d)
        acc1.addProduct(floats(quadProducts(q, x1 + o)) * s[1], d)
        acc2.addProduct(floats(quadProducts(q, x2 + o)) * s[2], d)
        acc3.addProduct(floats(quadProducts(q, x3 + o)) * s[3], d)
        if K.batchHasOffset {
            off.addProduct(SIMD4(repeating: dm[1]), UnsafeRawPointer(xm + b * stride).loadUnaligned(as: SIMD4<Float>.self))
        }
    }
    let sums = SIMD4<Float>(horizontalSum(acc0), horizontalSum(acc1), horizontalSum(acc2), horizontalSum(acc3)) + off
    return SIMD8(lowHalf: sums, highHalf: SIMD4())
}
