// Integer row·activation kernels for the 32-element block formats (Q4_0, Q4_1, Q5_0,
// Q5_1) against ``QuantizedActivations``.
//
// Per block: weight codes are unpacked to bytes, widened to 16-bit lanes and multiplied
// lane-wise with the 16-bit activation codes (`vpmullw`); the two 16-element halves are
// added in 16 bits (worst case 2·31·511 = 31682 for Q5_1, so no overflow), converted to
// float once and scaled by d_w·d_x with one fused multiply-add. Formats with an offset m
// add m·(d_x·Σcodes_x), the block sum kept by the activations. Two blocks are in flight
// per iteration with separate accumulators, so the loop is not bound by FMA latency.

/// Pointers into a ``QuantizedActivations`` starting at some block.
struct ActivationBlocks {
    let codes: UnsafePointer<Int16>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>

    init(_ a: QuantizedActivations, block: Int = 0) {
        codes = UnsafePointer(a.codes + 32 * block)
        scales = UnsafePointer(a.scales + block)
        sums = UnsafePointer(a.sums + block)
    }
}

/// Runs `step(block, accumulator, offsetAccumulator)` for every block with two
/// interleaved accumulator pairs and returns the total.
@inline(__always)
func twoWayBlockLoop(blocks: Int, _ step: (Int, inout SIMD16<Float>, inout Float) -> Void) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var off0: Float = 0, off1: Float = 0
    var b = 0
    while b + 2 <= blocks {
        step(b, &acc0, &off0)
        step(b + 1, &acc1, &off1)
        b += 2
    }
    if b < blocks { step(b, &acc0, &off0) }
    return horizontalSum(acc0 + acc1) + (off0 + off1)
}

extension BlockQ4_0 {
    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        twoWayBlockLoop(blocks: blocks) { b, acc, _ in
            let p = row + b * bytes
            let x = a.codes + 32 * b
            let qs = loadBytes16(p, 2)
            let s = widenSigned((qs & 0x0F) &- 8) &* loadCodes16(x) &+ widenSigned((qs &>> 4) &- 8) &* loadCodes16(x + 16)
            acc.addProduct(floats(s), SIMD16(repeating: loadHalfPair(p, 0)[0] * a.scales[b]))
        }
    }
}

extension BlockQ4_1 {
    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        twoWayBlockLoop(blocks: blocks) { b, acc, off in
            let p = row + b * bytes
            let x = a.codes + 32 * b
            let qs = loadBytes16(p, 4)
            let s = widenUnsigned(qs & 0x0F) &* loadCodes16(x) &+ widenUnsigned(qs &>> 4) &* loadCodes16(x + 16)
            let dm = loadHalfPair(p, 0)
            acc.addProduct(floats(s), SIMD16(repeating: dm[0] * a.scales[b]))
            off.addProduct(dm[1], a.sums[b])
        }
    }
}

extension BlockQ5_0 {
    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        twoWayBlockLoop(blocks: blocks) { b, acc, _ in
            let p = row + b * bytes
            let x = a.codes + 32 * b
            let q = quants(p)
            let s = widenSigned(q.low) &* loadCodes16(x) &+ widenSigned(q.high) &* loadCodes16(x + 16)
            acc.addProduct(floats(s), SIMD16(repeating: loadHalfPair(p, 0)[0] * a.scales[b]))
        }
    }
}

extension BlockQ5_1 {
    static func dotInteger(_ row: UnsafeRawPointer, _ a: ActivationBlocks, blocks: Int) -> Float {
        twoWayBlockLoop(blocks: blocks) { b, acc, off in
            let p = row + b * bytes
            let x = a.codes + 32 * b
            let q = quants(p)
            let s = widenUnsigned(q.low) &* loadCodes16(x) &+ widenUnsigned(q.high) &* loadCodes16(x + 16)
            let dm = loadHalfPair(p, 0)
            acc.addProduct(floats(s), SIMD16(repeating: dm[0] * a.scales[b]))
            off.addProduct(dm[1], a.sums[b])
        }
    }
}

// Q8_0 has no integer kernel: 8-bit weight codes times 10-bit activation codes would
// overflow 16-bit lanes, and its float kernel (one convert + FMA per 16 weights) measured
// as fast as an 8×8-bit integer version.
