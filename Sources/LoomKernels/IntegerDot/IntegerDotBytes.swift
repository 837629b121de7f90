// Decode rows of Q4_0, Q4_1, Q5_0 and Q5_1 with the unsigned×signed byte dot `vpdpbusd`
// (`loom_dot_bytes` of LoomIntrinsics; AVX-512 VNNI or AVX-VNNI) on the same 10-bit
// activation codes as the 16-bit kernels: the same integer per block, float rounding aside.
//
// The byte dot multiplies 32 byte pairs per instruction (twice `vpdpwssd`), but one side
// must be unsigned and both are bytes. So the weight codes are fed unsigned (the stored
// codes: q + 8 for Q4_0, q + 16 for Q5_0, as they are for Q4_1/Q5_1), and each 10-bit
// activation code x = 4·h + l comes as two byte planes of the activations
// (``QuantizedActivations/highCodes``, ``QuantizedActivations/lowCodes``): the block's sum is
// 4·dot(u, h) + dot(u, l), two byte dots with a shift between them. Each block's 8 integer
// lanes are converted and scaled into float accumulators; the per-block constant
// (m, or −o·d) times d_x·Σx is added four blocks at a time.
//
// Each measured well faster than the 16-bit kernel it replaces (scripts/bench_row_kernels.swift;
// BENCHMARKS.md, "Kernel design measurements"). The same kernel for Q8_0 (codes + 128) gained
// less than the 1.3× the project asks of a C intrinsic's kernel, so Q8_0 keeps the 16-bit
// kernel.
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

/// Where the byte-dot decode kernels are used.
enum IntegerDotBytes {
    /// Whether the byte dot is one instruction on this build (a compile-time constant): AVX-512
    /// VNNI or AVX-VNNI. Q4_1 and Q5_1 take the byte kernels only then.
    static var isNative: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_BYTE_DOT != 0
        #else
        return false
        #endif
    }

    /// Whether ``splitCodeDot(_:_:_:)`` is fast on this build: the byte dot is native, or
    /// AVX2's `vpmaddubsw` computes it for codes of up to 5 bits (``maddSplitCodeDot(_:_:_:)``).
    /// Q4_0 and Q5_0 take the byte kernels then, and the activations are split into byte
    /// planes. Without either, Q4_0 keeps the 16-bit kernel and the activations skip the split.
    static var isFast: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_BYTE_DOT != 0 || LOOM_HAS_UNSIGNED_BYTE_MADD != 0
        #else
        return false
        #endif
    }

    /// Whether the byte-plane kernels multiply with AVX2's `vpmaddubsw` (``maddSplitCodeDot(_:_:_:)``):
    /// AVX2 without VNNI. The K-quant formats take their byte-plane kernels only there, the
    /// host they were measured on (an AVX2 Zen core; BENCHMARKS.md); VNNI hosts keep the
    /// kernels measured on them.
    static var usesByteMadd: Bool {
        #if canImport(LoomIntrinsics)
        return LOOM_HAS_BYTE_DOT == 0 && LOOM_HAS_UNSIGNED_BYTE_MADD != 0
        #else
        return false
        #endif
    }

    /// Whether the one-token integer kernel of `type` is the byte kernel (``byteDotRow`` and
    /// ``byteDotFourRows``): Q4_0 and Q5_0 where the split dot is fast, Q4_1 and Q5_1 where the
    /// byte dot is native (elsewhere they keep the offset kernel, whose arithmetic their
    /// exact batch kernel reproduces; IntegerDotOffset.swift).
    static func isOneTokenKernel(for type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q5_0: return isFast
        case .q4_1, .q5_1: return isNative
        default: return false
        }
    }
}

/// A 32-element block format whose codes go to the byte dot as unsigned bytes u: `half d`
/// at byte 0 and, when ``hasMinimum``, `half m` at byte 2; value = d·(u − ``unsignedOffset``) + m
/// (m = 0 without it). Q4_0 and Q5_0 store q + 8 and q + 16, Q4_1 and Q5_1 have m.
protocol ByteDotBlock {
    static var bytes: Int { get }
    static var unsignedOffset: Float { get }
    static var hasMinimum: Bool { get }
    /// The block's 32 unsigned codes u, as bytes in element order.
    static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8>
}

extension ByteDotBlock {
    /// The mask applied to each block's first 32-bit word: all of it (d, m), or d alone
    /// through the activations' opaque 0x0000FFFF (see ``scalesAndBiases(_:_:_:)``).
    @inline(__always)
    static func wordMask(_ a: ActivationBlocks) -> UInt32 { hasMinimum ? ~0 : a.lowHalfMask }
}

/// d and c = m − o·d (the per-block constant of value = d·u + c) for the four blocks at
/// `p + k·K.bytes`. One 32-bit load per block, converted together; the word is masked
/// to d alone for formats without m with a mask the optimiser cannot see: with a visible
/// one, or with 16-bit loads, LLVM gathered the scales with a `vpinsrw` that merged into an
/// accumulator register and chained every iteration to the previous one's FMA (Q5_0,
/// whose four 22-byte blocks span more than one 64-byte load, measured clearly slower that way;
/// BENCHMARKS.md, "Kernel design measurements").
@inline(__always)
func scalesAndBiases<K: ByteDotBlock>(_: K.Type, _ p: UnsafeRawPointer, _ mask: UInt32) -> (d: SIMD4<Float>, c: SIMD4<Float>) {
    scalesAndBiases(K.self, p, stride: K.bytes, mask)
}

/// ``scalesAndBiases(_:_:_:)`` for blocks `stride` bytes apart (the same block of four
/// consecutive rows: `stride` = the row's bytes).
@inline(__always)
func scalesAndBiases<K: ByteDotBlock>(_: K.Type, _ p: UnsafeRawPointer, stride: Int, _ mask: UInt32) -> (d: SIMD4<Float>, c: SIMD4<Float>) {
    var words = SIMD4<UInt32>()
    for k in 0..<4 { words[k] = p.loadUnaligned(fromByteOffset: k * stride, as: UInt32.self) }
    let f = halvesToFloats(unsafeBitCast(words & SIMD4(repeating: mask), to: SIMD8<UInt16>.self))
    let d = SIMD4(f[0], f[2], f[4], f[6])
    return (d, SIMD4(f[1], f[3], f[5], f[7]) - K.unsignedOffset * d)
}

/// The 16 bytes at `p` as 32 unsigned nibble codes, low nibbles first (Q4_0/Q4_1 order).
@inline(__always)
func nibbleCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> {
    let qs = p.loadUnaligned(as: SIMD16<UInt8>.self)
    #if canImport(LoomIntrinsics)
    if LOOM_HAS_BYTE_AFFINE != 0 {
        // The 16 bytes in both halves (a broadcast load), then one affine byte map whose
        // GF(2) matrix (per 64-bit lane; byte 7 − i selects the input bits of output bit
        // i) keeps the low nibble in the lower half and moves the high nibble down in the
        // upper: one instruction for 32 codes, where mask, shift and insert are three. (The
        // matrices must stay a local constant: as a global they cost a `swift_once` check
        // per block.)
        let matrices = SIMD4<UInt64>(0x0102_0408_0000_0000, 0x0102_0408_0000_0000, 0x1020_4080_0000_0000, 0x1020_4080_0000_0000)
        return loom_affine_bytes32(unsafeBitCast((qs, qs), to: SIMD32<UInt8>.self), unsafeBitCast(matrices, to: SIMD32<UInt8>.self))
    }
    #endif
    return unsafeBitCast((qs & 0x0F, qs &>> 4), to: SIMD32<UInt8>.self)
}

/// The five-bit codes of a Q5 block: the nibbles at `qs` with bit i of `qh` as 16.
/// (Added, not OR-ed: the bits are disjoint, and Swift's `|`, `&` on `SIMD32<UInt8>` are
/// lane-by-lane loops, where `&+` is one `vpaddb`; SIMD16 and SIMD8<UInt32> are fine.)
@inline(__always)
func fiveBitCodes(_ qs: UnsafeRawPointer, _ qh: UInt32) -> SIMD32<UInt8> {
    let nibbles = nibbleCodes(qs)
    #if canImport(LoomIntrinsics)
    if LOOM_HAS_BIT_SELECT != 0 { return loom_select_bytes32(qh, nibbles &+ SIMD32(repeating: 16), nibbles) }
    #endif
    let h = portableFifthBitsOfWord(qh)
    return nibbles &+ unsafeBitCast((h.low, h.high), to: SIMD32<UInt8>.self)
}

extension BlockQ4_0: ByteDotBlock {
    static var unsignedOffset: Float { 8 }
    static var hasMinimum: Bool { false }
    @inline(__always) static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> { nibbleCodes(p + 2) }
}

extension BlockQ4_1: ByteDotBlock {
    static var unsignedOffset: Float { 0 }
    static var hasMinimum: Bool { true }
    @inline(__always) static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> { nibbleCodes(p + 4) }
}

extension BlockQ5_0: ByteDotBlock {
    static var unsignedOffset: Float { 16 }
    static var hasMinimum: Bool { false }
    @inline(__always) static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> {
        fiveBitCodes(p + 6, p.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
    }
}

extension BlockQ5_1: ByteDotBlock {
    static var unsignedOffset: Float { 0 }
    static var hasMinimum: Bool { true }
    @inline(__always) static func unsignedCodes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> {
        fiveBitCodes(p + 8, p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    }
}

/// Σ_blocks (d·d_x·Σ u·x + c·d_x·Σx) over a row. Each block's integer vector is converted
/// and scaled into 8-lane float accumulators (no per-block horizontal sum); the bias terms
/// c·(d_x·Σx) are added four blocks at a time as one 4-lane product.
@inline(__always)
func byteDotRow<K: ByteDotBlock>(_: K.Type, _ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var biases = SIMD4<Float>()
    let mask = K.wordMask(a)
    var b = 0
    while b + 4 <= blocks {
        let p = row + K.bytes * b
        let (d, c) = scalesAndBiases(K.self, p, mask)
        biases.addProduct(c, UnsafeRawPointer(a.sums + b).loadUnaligned(as: SIMD4<Float>.self))
        let scales = d * UnsafeRawPointer(a.scales + b).loadUnaligned(as: SIMD4<Float>.self)
        acc0.addProduct(floats(byteBlockSum(K.self, p, a, b)), SIMD8(repeating: scales[0]))
        acc1.addProduct(floats(byteBlockSum(K.self, p + K.bytes, a, b + 1)), SIMD8(repeating: scales[1]))
        acc2.addProduct(floats(byteBlockSum(K.self, p + 2 * K.bytes, a, b + 2)), SIMD8(repeating: scales[2]))
        acc3.addProduct(floats(byteBlockSum(K.self, p + 3 * K.bytes, a, b + 3)), SIMD8(repeating: scales[3]))
        b += 4
    }
    var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3)) + horizontalSum(biases)
    while b < blocks {
        let p = row + K.bytes * b
        let dm = halfPairToFloats(p.loadUnaligned(as: UInt32.self) & mask)
        sum += Float(byteBlockSum(K.self, p, a, b).wrappedSum()) * (dm[0] * a.scales[b]) + (dm[1] - K.unsignedOffset * dm[0]) * a.sums[b]
        b += 1
    }
    return sum
}

/// Σ u·x over block `b`, spread over 8 lanes: 4·dot(u, h) + dot(u, l).
@inline(__always)
func byteBlockSum<K: ByteDotBlock>(_: K.Type, _ p: UnsafeRawPointer, _ a: ActivationBlocks, _ b: Int) -> SIMD8<Int32> {
    let high = UnsafeRawPointer(a.highCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
    let low = UnsafeRawPointer(a.lowCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
    return splitCodeDot(K.unsignedCodes(p), high, low)
}

/// acc + the byte dot of `u` and `s` (see `loom_dot_bytes`).
@inline(__always)
func byteDot32(_ acc: SIMD8<Int32>, _ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD8<Int32> {
    #if canImport(LoomIntrinsics)
    return loom_dot_bytes(acc, u, s)
    #else
    return portableByteDot32(acc, u, s)
    #endif
}

/// ``byteDot32(_:_:_:)`` in plain Swift (the same integers).
@inline(__always)
func portableByteDot32(_ acc: SIMD8<Int32>, _ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD8<Int32> {
    var r = acc
    for i in 0..<8 {
        var t: Int32 = 0
        for k in 0..<4 { t &+= Int32(u[4 * i + k]) &* Int32(s[4 * i + k]) }
        r[i] &+= t
    }
    return r
}
