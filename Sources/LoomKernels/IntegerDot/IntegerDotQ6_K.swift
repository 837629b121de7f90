// Q6_K rows against the 10-bit activation codes with AVX2's unsigned × signed byte
// multiply-add (`vpmaddubsw`), as llama.cpp multiplies Q6_K on AVX2 (ggml-cpu
// arch/x86/quants.c, `ggml_vec_dot_q6_K_q8_K`): the stored codes q (0...63) go in unsigned,
// each activation code x = 4·high + low as its two byte planes (``QuantizedActivations``).
//
// Per 32-element chunk (one activation block, two 16-element groups g, g + 1 of the row):
// mh = madd(q, high), ml = madd(q, low) in 16-bit pair sums (|mh| ≤ 2·63·128 = 16128,
// ml ≤ 2·63·3 = 378: no saturation), then `vpmaddwd` by the group scales (8 lanes of sc[g],
// 8 of sc[g + 1]) gives 32-bit lanes of sc·(pair of pairs); 4·that of mh plus that of ml is
// Σ sc·q·x over four elements per lane. The −32 of every code is Σ_g 32·sc[g]·Σ_{i∈g} x_i,
// from the activations' half-block code sums (``QuantizedActivations/halfSums``), once per
// super-block. The integers equal Σ sc·(q − 32)·x exactly, as the 16-bit kernel's do; only
// the float sums (one scale d·d_x per chunk) round differently.
//
// One row at 4096 columns (scripts/bench_row_kernels.swift, one AVX2 Zen core, rows in L2):
// 633 ns for the float kernel, 669 for the 16-bit integer kernel, this one in BENCHMARKS.md.
#if canImport(LoomIntrinsics)
import LoomIntrinsics
#endif

extension BlockQ6_K {
    /// Whether ``dotBytes(_:_:blocks:)`` is the decode kernel (``IntegerDotBytes/usesByteMadd``:
    /// AVX2 without VNNI, where it was measured; elsewhere Q6_K keeps the float kernel).
    static var hasByteKernel: Bool { IntegerDotBytes.usesByteMadd }

    /// Σ row·x̂ over `blocks` super-blocks with the byte multiply-add (see the file header).
    @inline(__always)
    static func dotBytes(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var offsets = SIMD8<Float>()
        for sb in 0..<blocks {
            let p = row + sb * bytes
            let d = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
            let dx = d * UnsafeRawPointer(a.scales + 8 * sb).loadUnaligned(as: SIMD8<Float>.self)
            let sc = p.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self)
            // Σ_g sc[g]·S[g] per activation block (groups 2b and 2b + 1), for the −32 term.
            var groupOffsets = SIMD16<Int32>()
            let sums = UnsafeRawPointer(a.halfSums + 16 * sb).loadUnaligned(as: SIMD16<Int32>.self)
            for i in 0..<16 { groupOffsets[i] = Int32(sc[i]) &* sums[i] }
            offsets.addProduct(floats(groupOffsets.evenHalf &+ groupOffsets.oddHalf), dx)
            for h in 0..<2 {
                let (u0, u1, u2, u3) = wideCodes(p, half: h)
                let b = 8 * sb + 4 * h
                let t0 = chunkSum(u0, a, block: b, sc, group: 8 * h)
                let t1 = chunkSum(u1, a, block: b + 1, sc, group: 8 * h + 2)
                let t2 = chunkSum(u2, a, block: b + 2, sc, group: 8 * h + 4)
                let t3 = chunkSum(u3, a, block: b + 3, sc, group: 8 * h + 6)
                acc0.addProduct(floats(t0), SIMD8(repeating: dx[4 * h]))
                acc1.addProduct(floats(t1), SIMD8(repeating: dx[4 * h + 1]))
                acc0.addProduct(floats(t2), SIMD8(repeating: dx[4 * h + 2]))
                acc1.addProduct(floats(t3), SIMD8(repeating: dx[4 * h + 3]))
            }
        }
        return horizontalSum(acc0 + acc1) - 32 * horizontalSum(offsets)
    }

    /// The stored codes q (0...63) of half `h` as four 32-byte vectors, elements
    /// 128h + 32j ..< +32 in vector j (``unsignedCodes(_:half:group:)`` for both groups at
    /// once): the masks and shifts run on 32-bit lanes, one 256-bit operation each (Swift's
    /// `&`, `|` on `SIMD32<UInt8>` are lane loops).
    @inline(__always)
    static func wideCodes(_ p: UnsafeRawPointer, half h: Int)
        -> (SIMD32<UInt8>, SIMD32<UInt8>, SIMD32<UInt8>, SIMD32<UInt8>) {
        let a = p.loadUnaligned(fromByteOffset: 64 * h, as: SIMD8<UInt32>.self)
        let b = p.loadUnaligned(fromByteOffset: 64 * h + 32, as: SIMD8<UInt32>.self)
        let hb = p.loadUnaligned(fromByteOffset: 128 + 32 * h, as: SIMD8<UInt32>.self)
        let low = SIMD8<UInt32>(repeating: 0x0F0F_0F0F), top = SIMD8<UInt32>(repeating: 0x3030_3030)
        let q0 = (a & low) | ((hb &<< 4) & top)
        let q1 = (b & low) | ((hb &<< 2) & top)
        let q2 = ((a &>> 4) & low) | (hb & top)
        let q3 = ((b &>> 4) & low) | ((hb &>> 2) & top)
        return (unsafeBitCast(q0, to: SIMD32<UInt8>.self), unsafeBitCast(q1, to: SIMD32<UInt8>.self),
                unsafeBitCast(q2, to: SIMD32<UInt8>.self), unsafeBitCast(q3, to: SIMD32<UInt8>.self))
    }

    /// Σ sc·q·x over a 32-element chunk, spread over 8 lanes: codes `q`, activation block
    /// `block`, group scales sc[group] (elements 0..<16) and sc[group + 1] (16..<32).
    @inline(__always)
    static func chunkSum(_ q: SIMD32<UInt8>, _ a: ActivationBlocks, block: Int, _ sc: SIMD16<Int8>, group: Int) -> SIMD8<Int32> {
        let high = a.highPlane(block), low = a.lowPlane(block)
        let scales = SIMD16<Int16>(lowHalf: SIMD8(repeating: Int16(sc[group])), highHalf: SIMD8(repeating: Int16(sc[group + 1])))
        return (pairSums(NativeByteMadd.madd(q, high), scales) &<< 2) &+ pairSums(NativeByteMadd.madd(q, low), scales)
    }
}

/// Lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1] in 32 bits (`vpmaddwd`; see `loom_madd_words`).
@inline(__always)
func pairSums(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    #if canImport(LoomIntrinsics)
    return loom_madd_words(a, b)
    #else
    return pairProducts(a, b)
    #endif
}
