// Integer matrix products for small batches of tokens (a server decode step: one token per
// active sequence, 2 ≤ tokens < 16), against ``QuantizedActivationBatch``.
//
// Per 32-element weight block the codes are unpacked ONCE into sixteen 32-bit lanes, lane j
// holding the pair (q[j], q[j + 16]) as two 16-bit halves; the activations are stored in the
// same pair order, so one `vpmaddwd` (a memory-based scalar loop LLVM turns into it, see
// ``pairProducts(_:_:)``) gives per token the sixteen exact sums q[j]·x[j] + q[j+16]·x[j+16].
// Those are exactly the 16-bit lane sums of the single-token Q4_1/Q5_1 kernels
// (IntegerDotLegacy.swift) and, summed, the block sums of the Q4_0/Q5_0/Q8_0 kernels
// (IntegerDotPairwise.swift); the float work after them is done in the same order as
// there, so every token's result is bit-identical to ``IntegerRowKernels/dot`` on that
// token alone (the tests check this).
//
// Tokens go through in groups of four (two float accumulators per token for the offset
// formats, eight registers; one block of unpacked weights serves all four); the last
// `tokens % 4` use the single-token kernel, which gives the same bits.
//
// Measured (scripts/bench_batch_kernels.swift, one core of the shared Zen 4, 1536 rows ×
// 576 columns × 8 tokens, MAC/ns, min of passes): see the numbers in the commit history /
// report; the header is updated with them below.

/// Pointers into a ``QuantizedActivationBatch``: token t's codes (in pair order) start at
/// `pairs + t·columns`, its block scales and sums at `scales + t·blocks`, `sums + t·blocks`.
struct BatchActivationBlocks {
    let pairs: UnsafePointer<Int16>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>
    /// Token t's scale and sum of block b at `[b·tokens + t]`.
    let scalesByBlock: UnsafePointer<Float>
    let sumsByBlock: UnsafePointer<Float>
    let columns: Int
    let tokens: Int
    let plain: ActivationBlocks
    
    var blocks: Int { columns / 32 }

    /// Token `t` in the layout of the single-token kernels.
    func token(_ t: Int) -> ActivationBlocks {
        ActivationBlocks(codes: plain.codes + t * columns, scales: scales + t * blocks, sums: sums + t * blocks, lowHalfMask: plain.lowHalfMask)
    }
}

extension ActivationBlocks {
    init(codes: UnsafePointer<Int16>, scales: UnsafePointer<Float>, sums: UnsafePointer<Float>, lowHalfMask: UInt32) {
        self.codes = codes
        self.scales = scales
        self.sums = sums
        self.lowHalfMask = lowHalfMask
    }
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
        let codes = scratch.bindMemory(to: Int16.self, capacity: a.columns)
        switch type {
        case .q4_1: offsetRows(BlockQ4_1.self, w, rows, a, y, ldy, bias, codes)
        case .q5_1: offsetRows(BlockQ5_1.self, w, rows, a, y, ldy, bias, codes)
        case .q4_0: pairwiseRows(BlockQ4_0.self, w, rows, a, y, ldy, bias, codes)
        case .q5_0: pairwiseRows(BlockQ5_0.self, w, rows, a, y, ldy, bias, codes)
        case .q8_0: pairwiseRows(BlockQ8_0.self, w, rows, a, y, ldy, bias, codes)
        default: fatalError("IntegerBatchKernels: no batch kernel for \(type)")
        }
    }
}

/// A 32-element block format whose codes the batch kernels unpack into pairs.
protocol BatchIntegerBlock {
    static var bytes: Int { get }
    /// Lane j: code j in the low 16 bits, code j + 16 in the high 16 bits (signed codes as
    /// two's complement halves; offset formats keep their unsigned codes).
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32>
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

/// Bit j and bit j + 16 of a Q5 block's `qh` word as 0 or 16 in lane j.
@inline(__always)
func fifthBitPairs(_ qh: UInt32) -> (low: SIMD16<UInt32>, high: SIMD16<UInt32>) {
    let shifts = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let word = SIMD16<UInt32>(repeating: qh)
    return (((word &>> shifts) & 1) &<< 4, ((word &>> (shifts &+ 16)) & 1) &<< 4)
}

extension BlockQ4_1: BatchIntegerBlock {
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let b = widenToWords(loadBytes16(p, 4))
        return (b & 0x0F) | ((b & 0xF0) &<< 12)
    }
}

extension BlockQ5_1: BatchIntegerBlock {
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let h = fifthBitPairs(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let b = widenToWords(loadBytes16(p, 8))
        return ((b & 0x0F) | h.low) | (((b &>> 4) | h.high) &<< 16)
    }
}

extension BlockQ4_0: BatchIntegerBlock {
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let b = widenToWords(loadBytes16(p, 2))
        return packPairs((b & 0x0F) &- 8, (b &>> 4) &- 8)
    }
}

extension BlockQ5_0: BatchIntegerBlock {
    @inline(__always)
    static func pairedCodes(_ p: UnsafeRawPointer) -> SIMD16<UInt32> {
        let h = fifthBitPairs(p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let b = widenToWords(loadBytes16(p, 6))
        return packPairs(((b & 0x0F) | h.low) &- 16, ((b &>> 4) | h.high) &- 16)
    }
}

extension BlockQ8_0: BatchIntegerBlock {
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

/// Lane j = w[2j]·x[2j] + w[2j+1]·x[2j+1] (signed 16-bit halves, exact in 32 bits). Written
/// as a scalar loop over two memory operands because that is the form LLVM turns into one
/// `vpmaddwd`; with the weights as a register value (even laundered through an opaque XOR)
/// it split the product into `vpmulld` + shifts and ran ≈ 3× slower than the float path.
@inline(__always)
func pairProducts(_ w: UnsafePointer<Int16>, _ x: UnsafePointer<Int16>) -> SIMD16<Int32> {
    var r = SIMD16<Int32>()
    withUnsafeMutableBytes(of: &r) { rb in
        let rp = rb.baseAddress!.assumingMemoryBound(to: Int32.self)
        for j in 0..<16 {
            rp[j] = Int32(w[2 * j]) &* Int32(x[2 * j]) &+ Int32(w[2 * j + 1]) &* Int32(x[2 * j + 1])
        }
    }
    return r
}

/// Lane j (0..<8) = Σ of the products of pairs j and j + 8 of ``pairProducts(_:_:)`` — four
/// products per lane, so the float conversion and multiply-add that follow work on eight
/// lanes instead of sixteen (`vpmaddwd` + `vpdpwssd` on 256-bit registers).
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

/// 32-bit integer lanes → floats.
@inline(__always)
func floats(_ v: SIMD16<Int32>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(v[i]) }
    return r
}

/// 32-bit integer lanes → floats.
@inline(__always)
func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    var r = SIMD8<Float>()
    for i in 0..<8 { r[i] = Float(v[i]) }
    return r
}

/// Four tokens' float accumulators (kept as separate values so they live in registers).
struct FourAccumulators {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
}

/// Offset formats (Q4_1, Q5_1): per token the arithmetic of `legacyIntegerDot` — even
/// blocks into one accumulator, odd into another, lanes scaled by d·d_x, offsets m·sums
/// accumulated per token — four tokens per pass over the row.
@inline(__always)
func offsetRows<K: BatchIntegerBlock & LegacyIntegerBlock>(
    _: K.Type, _ w: WeightMatrix, _ rows: Range<Int>, _ a: BatchActivationBlocks,
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ bias: UnsafePointer<Float>?, _ codes: UnsafeMutablePointer<Int16>
) {
    let blocks = a.blocks, n = a.columns
    for r in rows {
        let row = w.row(r)
        unpackPairs(K.self, row, blocks: blocks, into: codes)
        var t0 = 0
        while t0 + 8 <= a.tokens {
            offsetRowEight(K.self, row, r, a, t0, y, ldy, bias, codes)
            t0 += 8
        }
        while t0 + 4 <= a.tokens {
            let x = a.pairs + t0 * n
            let tokens = a.tokens
            let xs = a.scalesByBlock + t0, xm = a.sumsByBlock + t0
            var even = FourAccumulators(), odd = FourAccumulators()
            var offEven = SIMD4<Float>(), offOdd = SIMD4<Float>()
            @inline(__always) func step(_ b: Int, _ acc: inout FourAccumulators, _ off: inout SIMD4<Float>) {
                let p = row + b * K.bytes
                let q = UnsafePointer(codes + 32 * b)
                let dm = loadHalves8(p, 0)
                let xb = x + 32 * b
                // d·d_x for the four tokens in one multiply (the same products as one by one).
                let scale = dm[0] * UnsafeRawPointer(xs + b * tokens).loadUnaligned(as: SIMD4<Float>.self)
                acc.a0.addProduct(floats(quadProducts(q, xb)), SIMD8(repeating: scale[0]))
                acc.a1.addProduct(floats(quadProducts(q, xb + n)), SIMD8(repeating: scale[1]))
                acc.a2.addProduct(floats(quadProducts(q, xb + 2 * n)), SIMD8(repeating: scale[2]))
                acc.a3.addProduct(floats(quadProducts(q, xb + 3 * n)), SIMD8(repeating: scale[3]))
                off.addProduct(SIMD4(repeating: dm[1]), UnsafeRawPointer(xm + b * tokens).loadUnaligned(as: SIMD4<Float>.self))
            }
            var b = 0
            while b + 2 <= blocks {
                step(b, &even, &offEven)
                step(b + 1, &odd, &offOdd)
                b += 2
            }
            if b < blocks { step(b, &even, &offEven) }
            let extra = bias?[r] ?? 0
            let off = offEven + offOdd
            y[t0 * ldy + r] = finish(horizontalSum(even.a0 + odd.a0) + off[0], extra, bias != nil)
            y[(t0 + 1) * ldy + r] = finish(horizontalSum(even.a1 + odd.a1) + off[1], extra, bias != nil)
            y[(t0 + 2) * ldy + r] = finish(horizontalSum(even.a2 + odd.a2) + off[2], extra, bias != nil)
            y[(t0 + 3) * ldy + r] = finish(horizontalSum(even.a3 + odd.a3) + off[3], extra, bias != nil)
            t0 += 4
        }
        singleTokens(w, r, a, from: t0, y, ldy, bias)
    }
}

/// Eight tokens' float accumulators.
struct EightAccumulators {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
}

/// One row of an offset format times tokens `t0 ..< t0 + 8` (codes already unpacked): one
/// accumulator per token (eight independent chains are enough to hide the FMA latency).
@inline(__always)
func offsetRowEight<K: BatchIntegerBlock & LegacyIntegerBlock>(
    _: K.Type, _ row: UnsafeRawPointer, _ r: Int, _ a: BatchActivationBlocks, _ t0: Int,
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ bias: UnsafePointer<Float>?, _ codes: UnsafeMutablePointer<Int16>
) {
    let n = a.columns, tokens = a.tokens
    let x = a.pairs + t0 * n
    let xs = a.scalesByBlock + t0, xm = a.sumsByBlock + t0
    var acc = EightAccumulators()
    var off = SIMD8<Float>()
    for b in 0..<a.blocks {
        let p = row + b * K.bytes
        let q = UnsafePointer(codes + 32 * b)
        let dm = loadHalves8(p, 0)
        let xb = x + 32 * b
        // (P·d_x)·d: the token scale as a broadcast memory operand of the multiply, the
        // block scale d shared by all eight tokens (one uop fewer per token than forming
        // d·d_x first and broadcasting it from a register).
        let d = SIMD8<Float>(repeating: dm[0])
        let s = xs + b * tokens
        acc.a0.addProduct(floats(quadProducts(q, xb)) * s[0], d)
        acc.a1.addProduct(floats(quadProducts(q, xb + n)) * s[1], d)
        acc.a2.addProduct(floats(quadProducts(q, xb + 2 * n)) * s[2], d)
        acc.a3.addProduct(floats(quadProducts(q, xb + 3 * n)) * s[3], d)
        acc.a4.addProduct(floats(quadProducts(q, xb + 4 * n)) * s[4], d)
        acc.a5.addProduct(floats(quadProducts(q, xb + 5 * n)) * s[5], d)
        acc.a6.addProduct(floats(quadProducts(q, xb + 6 * n)) * s[6], d)
        acc.a7.addProduct(floats(quadProducts(q, xb + 7 * n)) * s[7], d)
        off.addProduct(SIMD8(repeating: dm[1]), UnsafeRawPointer(xm + b * tokens).loadUnaligned(as: SIMD8<Float>.self))
    }
    var sums = SIMD8<Float>(horizontalSum(acc.a0), horizontalSum(acc.a1), horizontalSum(acc.a2), horizontalSum(acc.a3),
                            horizontalSum(acc.a4), horizontalSum(acc.a5), horizontalSum(acc.a6), horizontalSum(acc.a7))
    sums += off
    if let bias { sums += SIMD8(repeating: bias[r]) }
    for t in 0..<8 { y[(t0 + t) * ldy + r] = sums[t] }
}

/// `v + bias` when there is a bias (as `MatMul`'s single-token path adds it), else `v`.
@inline(__always)
func finish(_ v: Float, _ bias: Float, _ hasBias: Bool) -> Float {
    hasBias ? v + bias : v
}

/// The tokens from `t0` on, one at a time through the single-token kernel (same bits).
@inline(__always)
func singleTokens(
    _ w: WeightMatrix, _ r: Int, _ a: BatchActivationBlocks, from t0: Int,
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ bias: UnsafePointer<Float>?
) {
    var t = t0
    while t < a.tokens {
        var v = IntegerRowKernels.dot(w.type, w.row(r), a.token(t), count: a.columns)
        if let bias { v += bias[r] }
        y[t * ldy + r] = v
        t += 1
    }
}

/// Σ of the sixteen lanes of each of four vectors, as one vector (block sums of four blocks).
@inline(__always)
func laneSums(_ v0: SIMD16<Int32>, _ v1: SIMD16<Int32>, _ v2: SIMD16<Int32>, _ v3: SIMD16<Int32>) -> SIMD4<Int32> {
    let a0 = v0.lowHalf &+ v0.highHalf, a1 = v1.lowHalf &+ v1.highHalf
    let a2 = v2.lowHalf &+ v2.highHalf, a3 = v3.lowHalf &+ v3.highHalf
    let b01 = SIMD8(lowHalf: a0.lowHalf, highHalf: a1.lowHalf) &+ SIMD8(lowHalf: a0.highHalf, highHalf: a1.highHalf)
    let b23 = SIMD8(lowHalf: a2.lowHalf, highHalf: a3.lowHalf) &+ SIMD8(lowHalf: a2.highHalf, highHalf: a3.highHalf)
    let c01 = b01.evenHalf &+ b01.oddHalf, c23 = b23.evenHalf &+ b23.oddHalf
    let d = SIMD8(lowHalf: c01, highHalf: c23)
    return d.evenHalf &+ d.oddHalf
}

/// Formats without offset (Q4_0, Q5_0, Q8_0): per token the arithmetic of `pairwiseDot` —
/// four blocks' integer sums converted together and scaled by d·d_x into a 4-lane
/// accumulator, the last `blocks % 4` blocks added one by one — four tokens per pass.
@inline(__always)
func pairwiseRows<K: BatchIntegerBlock>(
    _: K.Type, _ w: WeightMatrix, _ rows: Range<Int>, _ a: BatchActivationBlocks,
    _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ bias: UnsafePointer<Float>?, _ codes: UnsafeMutablePointer<Int16>
) {
    let blocks = a.blocks, n = a.columns
    for r in rows {
        let row = w.row(r)
        unpackPairs(K.self, row, blocks: blocks, into: codes)
        var t0 = 0
        while t0 + 4 <= a.tokens {
            let x = a.pairs + t0 * n
            let tokens = a.tokens
            let xs = a.scales + t0 * blocks, xsb = a.scalesByBlock + t0
            var acc0 = SIMD4<Float>(), acc1 = SIMD4<Float>(), acc2 = SIMD4<Float>(), acc3 = SIMD4<Float>()
            var b = 0
            while b + 4 <= blocks {
                let p = row + K.bytes * b
                let q0 = UnsafePointer(codes + 32 * b), q1 = q0 + 32, q2 = q0 + 64, q3 = q0 + 96
                let d = loadHalves4(p, stride: K.bytes, offset: 0)
                @inline(__always) func sums(_ xt: UnsafePointer<Int16>) -> SIMD4<Float> {
                    floats(laneSums(pairProducts(q0, xt), pairProducts(q1, xt + 32),
                                    pairProducts(q2, xt + 64), pairProducts(q3, xt + 96)))
                }
                let xb = x + 32 * b
                acc0.addProduct(sums(xb), d * UnsafeRawPointer(xs + b).loadUnaligned(as: SIMD4<Float>.self))
                acc1.addProduct(sums(xb + n), d * UnsafeRawPointer(xs + blocks + b).loadUnaligned(as: SIMD4<Float>.self))
                acc2.addProduct(sums(xb + 2 * n), d * UnsafeRawPointer(xs + 2 * blocks + b).loadUnaligned(as: SIMD4<Float>.self))
                acc3.addProduct(sums(xb + 3 * n), d * UnsafeRawPointer(xs + 3 * blocks + b).loadUnaligned(as: SIMD4<Float>.self))
                b += 4
            }
            var s = SIMD4<Float>(horizontalSum(acc0), horizontalSum(acc1), horizontalSum(acc2), horizontalSum(acc3))
            while b < blocks {
                let p = row + K.bytes * b
                let q = UnsafePointer(codes + 32 * b)
                let dz = halfPairToFloats(p.loadUnaligned(as: UInt32.self) & a.plain.lowHalfMask)
                let xb = x + 32 * b
                let t = SIMD4<Int32>(pairProducts(q, xb).wrappedSum(), pairProducts(q, xb + n).wrappedSum(),
                                     pairProducts(q, xb + 2 * n).wrappedSum(), pairProducts(q, xb + 3 * n).wrappedSum())
                let scale = dz[0] * UnsafeRawPointer(xsb + b * tokens).loadUnaligned(as: SIMD4<Float>.self) + dz[1]
                s += floats(t) * scale
                b += 1
            }
            if let bias { s += SIMD4(repeating: bias[r]) }
            y[t0 * ldy + r] = s[0]
            y[(t0 + 1) * ldy + r] = s[1]
            y[(t0 + 2) * ldy + r] = s[2]
            y[(t0 + 3) * ldy + r] = s[3]
            t0 += 4
        }
        singleTokens(w, r, a, from: t0, y, ldy, bias)
    }
}
