// Integer row·activation kernels for the K-quant formats (Q4_K, Q5_K, Q6_K) against
// ``QuantizedActivations`` (blocks of 32, so eight activation blocks per super-block).
// Where AVX2 multiplies bytes and VNNI does not (``IntegerDotBytes/usesByteMadd``), Q4_K and
// Q5_K take the byte-plane forms below and Q6_K its own (IntegerDotQ6_K.swift).
//
// Q4_K/Q5_K groups are 32 wide and line up with the activation blocks: per group the
// 16-bit products of two 16-element halves are added (≤ 2·31·511, no overflow), converted
// once and scaled by d·sc·d_x; the minimum term dmin·m·(d_x·Σcodes_x) is accumulated
// eight groups at a time. Q6_K groups are 16 wide with signed 8-bit scales: one 16-lane
// product (≤ 32·511) per group, scaled by d·sc·d_x of the activation block it lies in.

extension BlockQ4_K {
    /// Per 32-element group g of the super-block at `p` (Q4_K and Q5_K share the layout of
    /// d, dmin and the 6-bit scales): multiplier d·sc[g]·d_x[g], the minimum's factor dmin·m[g],
    /// and the activations' d_x·Σx of the block it multiplies (so the caller's offset is one
    /// fused multiply-add per super-block).
    @inline(__always)
    static func groupFactors(_ p: UnsafeRawPointer, _ a: ActivationBlocks, superBlock sb: Int)
        -> (multiplier: SIMD8<Float>, minimums: SIMD8<Float>, sums: SIMD8<Float>) {
        let xd = UnsafeRawPointer(a.scales + 8 * sb).loadUnaligned(as: SIMD8<Float>.self)
        let xs = UnsafeRawPointer(a.sums + 8 * sb).loadUnaligned(as: SIMD8<Float>.self)
        let (sc, m) = scalesAndMins(p, at: 4)
        let dmin = loadHalves8(p, 0)
        return (dmin[0] * unsignedFloats(sc) * xd, dmin[1] * unsignedFloats(m), xs)
    }

    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.usesByteMadd ? dotBytes(row, a, blocks: blocks) : dotSixteenBit(row, a, blocks: blocks)
    }

    /// The byte-plane form (AVX2's `vpmaddubsw`, ``maddSplitCodeDot(_:_:_:)``): per 32-element
    /// group the same integer as ``dotSixteenBit(_:_:blocks:)``, from one 32-byte vector of
    /// codes against the activation block's two byte planes.
    static func dotBytes(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var offsets = SIMD8<Float>()
        for sb in 0..<blocks {
            let p = row + sb * bytes
            let (multiplier, minimums, xs) = BlockQ4_K.groupFactors(p, a, superBlock: sb)
            offsets.addProduct(minimums, xs)
            for c in 0..<4 {
                // The 32 bytes as 32-bit lanes: one 256-bit mask and shift for 64 codes.
                let q = p.loadUnaligned(fromByteOffset: 16 + 32 * c, as: SIMD8<UInt32>.self)
                let nibble = SIMD8<UInt32>(repeating: 0x0F0F_0F0F)
                let b = 8 * sb + 2 * c
                let low = maddSplitCodeDot(unsafeBitCast(q & nibble, to: SIMD32<UInt8>.self), a.highPlane(b), a.lowPlane(b))
                let high = maddSplitCodeDot(unsafeBitCast((q &>> 4) & nibble, to: SIMD32<UInt8>.self), a.highPlane(b + 1), a.lowPlane(b + 1))
                acc0.addProduct(floats(low), SIMD8(repeating: multiplier[2 * c]))
                acc1.addProduct(floats(high), SIMD8(repeating: multiplier[2 * c + 1]))
            }
        }
        return horizontalSum(acc0 + acc1) - horizontalSum(offsets)
    }

    /// The 16-bit-lane form (every host; decode uses it where the byte multiply-add is not
    /// the kernel, see ``IntegerDotBytes/usesByteMadd``).
    static func dotSixteenBit(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var offsets = SIMD8<Float>()
        for sb in 0..<blocks {
            let p = row + sb * bytes
            let (multiplier, minimums, xs) = BlockQ4_K.groupFactors(p, a, superBlock: sb)
            offsets.addProduct(minimums, xs)
            let x = a.codes + 256 * sb
            for c in 0..<4 {
                let q0 = loadBytes16(p, 16 + 32 * c)
                let q1 = loadBytes16(p, 16 + 32 * c + 16)
                let xc = x + 64 * c
                let low = widenUnsigned(q0 & 0x0F) &* loadCodes16(xc) &+ widenUnsigned(q1 & 0x0F) &* loadCodes16(xc + 16)
                let high = widenUnsigned(q0 &>> 4) &* loadCodes16(xc + 32) &+ widenUnsigned(q1 &>> 4) &* loadCodes16(xc + 48)
                acc0.addProduct(floats(low), SIMD16(repeating: multiplier[2 * c]))
                acc1.addProduct(floats(high), SIMD16(repeating: multiplier[2 * c + 1]))
            }
        }
        return horizontalSum(acc0 + acc1) - horizontalSum(offsets)
    }
}

extension BlockQ5_K {
    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        IntegerDotBytes.usesByteMadd ? dotBytes(row, a, blocks: blocks) : dotSixteenBit(row, a, blocks: blocks)
    }

    /// The byte-plane form, as ``BlockQ4_K/dotBytes(_:_:blocks:)`` (5-bit codes ≤ 31 keep
    /// ``maddSplitCodeDot(_:_:_:)`` exact).
    static func dotBytes(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var offsets = SIMD8<Float>()
        for sb in 0..<blocks {
            let p = row + sb * bytes
            let (multiplier, minimums, xs) = BlockQ4_K.groupFactors(p, a, superBlock: sb)
            offsets.addProduct(minimums, xs)
            let qh0 = loadBytes16(p, 16)
            let qh1 = loadBytes16(p, 32)
            for c in 0..<4 {
                let q0 = codes(loadBytes16(p, 48 + 32 * c), qh0, chunk: c)
                let q1 = codes(loadBytes16(p, 48 + 32 * c + 16), qh1, chunk: c)
                let b = 8 * sb + 2 * c
                let low = maddSplitCodeDot(unsafeBitCast((q0.low, q1.low), to: SIMD32<UInt8>.self), a.highPlane(b), a.lowPlane(b))
                let high = maddSplitCodeDot(unsafeBitCast((q0.high, q1.high), to: SIMD32<UInt8>.self), a.highPlane(b + 1), a.lowPlane(b + 1))
                acc0.addProduct(floats(low), SIMD8(repeating: multiplier[2 * c]))
                acc1.addProduct(floats(high), SIMD8(repeating: multiplier[2 * c + 1]))
            }
        }
        return horizontalSum(acc0 + acc1) - horizontalSum(offsets)
    }

    /// The 16-bit-lane form (see ``BlockQ4_K/dotSixteenBit(_:_:blocks:)``).
    static func dotSixteenBit(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var offsets = SIMD8<Float>()
        for sb in 0..<blocks {
            let p = row + sb * bytes
            let (multiplier, minimums, xs) = BlockQ4_K.groupFactors(p, a, superBlock: sb)
            offsets.addProduct(minimums, xs)
            let qh0 = loadBytes16(p, 16)
            let qh1 = loadBytes16(p, 32)
            let x = a.codes + 256 * sb
            for c in 0..<4 {
                let q0 = codes(loadBytes16(p, 48 + 32 * c), qh0, chunk: c)
                let q1 = codes(loadBytes16(p, 48 + 32 * c + 16), qh1, chunk: c)
                let xc = x + 64 * c
                let low = widenUnsigned(q0.low) &* loadCodes16(xc) &+ widenUnsigned(q1.low) &* loadCodes16(xc + 16)
                let high = widenUnsigned(q0.high) &* loadCodes16(xc + 32) &+ widenUnsigned(q1.high) &* loadCodes16(xc + 48)
                acc0.addProduct(floats(low), SIMD16(repeating: multiplier[2 * c]))
                acc1.addProduct(floats(high), SIMD16(repeating: multiplier[2 * c + 1]))
            }
        }
        return horizontalSum(acc0 + acc1) - horizontalSum(offsets)
    }
}

extension BlockQ6_K {
    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        hasByteKernel ? dotBytes(row, a, blocks: blocks) : dotSixteenBit(row, a, blocks: blocks)
    }

    /// The 16-bit-lane kernel (any host; decode uses it only through tests and benchmarks
    /// where the byte kernel is unavailable, as the float kernel measured faster than it).
    static func dotSixteenBit(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        var acc = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        for sb in 0..<blocks {
            let p = row + sb * bytes
            let xd = UnsafeRawPointer(a.scales + 8 * sb).loadUnaligned(as: SIMD8<Float>.self)
            // Group k (16 elements) lies in activation block k / 2.
            var xdPerGroup = SIMD16<Float>()
            for k in 0..<16 { xdPerGroup[k] = xd[k / 2] }
            // d is the last of the eight halves at 194 (reading from 208 would pass the block end).
            let multiplier = loadHalves8(p, 194)[7] * signedFloats(loadBytes16(p, 192)) * xdPerGroup
            let x = a.codes + 256 * sb
            for h in 0..<2 {
                for g in 0..<2 {
                    let (q1, q2, q3, q4) = codes(p, half: h, group: g)
                    let xg = x + 128 * h + 16 * g
                    let k = 8 * h + g
                    acc.0.addProduct(floats(widenSigned(q1) &* loadCodes16(xg)), SIMD16(repeating: multiplier[k]))
                    acc.1.addProduct(floats(widenSigned(q2) &* loadCodes16(xg + 32)), SIMD16(repeating: multiplier[k + 2]))
                    acc.2.addProduct(floats(widenSigned(q3) &* loadCodes16(xg + 64)), SIMD16(repeating: multiplier[k + 4]))
                    acc.3.addProduct(floats(widenSigned(q4) &* loadCodes16(xg + 96)), SIMD16(repeating: multiplier[k + 6]))
                }
            }
        }
        return horizontalSum((acc.0 + acc.1) + (acc.2 + acc.3))
    }
}
