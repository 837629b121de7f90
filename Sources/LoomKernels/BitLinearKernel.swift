/// The product of a ``BitLinearMatrix`` with a batch of activations, as transformers'
/// BitNet modules compute it (`transformers/integrations/bitnet.py`):
///
/// 1. each token's activations are quantised to int8 on their own absmax
///    (`BitLinear.activation_quant` / `ActQuant`): `s = 127 / max(max|x|, 1e-5)`,
///    `x̂ = clamp(round(x·s), −128, 127)`, rounding half to even as `torch.round` does;
/// 2. `Σ w·x̂` is summed exactly in integers from the packed codes, without unpacking the
///    matrix: with u = w + 1 ∈ {0, 1, 2}, `Σ w·x̂ = Σ u·x̂ − Σ x̂`, so the stored codes go to the
///    unsigned × signed byte multiply-add (`vpmaddubsw`, ``NativeByteMadd``) as they are;
/// 3. the sum becomes `Σ / (s · weight_scale)` (BitLinear) or `Σ / s · weight_scale`
///    (AutoBitLinear), see ``BitLinearMatrix/ScaleUse``.
///
/// One pass over a stored byte row gives its four output rows (``BitLinearMatrix``), and the
/// quantised tokens of a batch share it, so each weight byte is read once per call.
public enum BitLinearKernel {
    /// The activation scale's floor (`clamp(min=1e-5)` in both modules).
    public static let epsilon: Float = 1e-5

    /// `output[t·rows + r] = (W·x_t)[r] (+ bias[r])` for `tokens` rows of `input`
    /// (`[tokens × columns]`).
    public static func multiply(
        _ w: BitLinearMatrix, _ input: UnsafePointer<Float>, tokens: Int, into output: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>?, pool: ThreadPool
    ) {
        guard tokens > 0 else { return }
        let columns = w.columns
        let codes = UnsafeMutablePointer<Int8>.allocate(capacity: tokens * columns)
        var scales = [Float](repeating: 0, count: tokens)
        var sums = [Int32](repeating: 0, count: tokens)
        defer { codes.deallocate() }
        for t in 0..<tokens {
            (scales[t], sums[t]) = quantize(input + t * columns, count: columns, into: codes + t * columns)
        }
        let packedRows = w.packedRows, rows = w.rows
        scales.withUnsafeBufferPointer { scales in
            sums.withUnsafeBufferPointer { sums in
                pool.parallelFor(count: packedRows, chunk: pool.chunkSize(for: packedRows)) { range, _ in
                    for p in range {
                        let row = w.base + p * columns
                        for t in 0..<tokens {
                            let dots = fourDots(row, codes + t * columns, count: columns) &- SIMD4(repeating: sums[t])
                            for k in 0..<4 {
                                let r = k * packedRows + p
                                let value: Float = switch w.scaleUse {
                                case .divide: Float(dots[k]) / (scales[t] * w.weightScale)
                                case .multiply: Float(dots[k]) / scales[t] * w.weightScale
                                }
                                output[t * rows + r] = value + (bias?[r] ?? 0)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Quantises `count` activations to int8 codes as transformers does; returns the scale
    /// `s` (codes are x·s) and the sum of the codes.
    public static func quantize(_ x: UnsafePointer<Float>, count: Int, into codes: UnsafeMutablePointer<Int8>) -> (scale: Float, sum: Int32) {
        // Whole-vector steps as in ``QuantizedActivations``: |x| and its maximum on the bit
        // patterns, x·s rounded half to even by the 1.5·2²³ trick (exact for |x·s| ≤ 2²²,
        // and |x·s| ≤ 127 here), then the scalar tail.
        var bits = SIMD16<UInt32>()
        var i = 0
        while i + 16 <= count {
            bits = pointwiseMax(bits, unsafeBitCast(loadFloats16(x + i), to: SIMD16<UInt32>.self) & 0x7FFF_FFFF)
            i += 16
        }
        var amax = Float(bitPattern: horizontalMax(bits))
        while i < count { amax = max(amax, abs(x[i])); i += 1 }
        let scale = 127 / max(amax, epsilon)
        let magic = SIMD16<Float>(repeating: 12_582_912), s = SIMD16<Float>(repeating: scale)
        var total = SIMD16<Int32>()
        i = 0
        while i + 16 <= count {
            var r = unsafeBitCast(loadFloats16(x + i) * s + magic, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
            r = pointwiseMin(pointwiseMax(r, SIMD16(repeating: -128)), SIMD16(repeating: 127))
            var c = SIMD16<Int8>()
            for k in 0..<16 { c[k] = Int8(truncatingIfNeeded: r[k]) }
            UnsafeMutableRawPointer(codes + i).storeBytes(of: c, as: SIMD16<Int8>.self)
            total &+= r
            i += 16
        }
        var sum = horizontalSum(total)
        while i < count {
            let q = min(127, max(-128, (x[i] * scale).rounded(.toNearestOrEven)))
            codes[i] = Int8(q)
            sum &+= Int32(q)
            i += 1
        }
        return (scale, sum)
    }

    /// `Σ u_k·x̂` for the four codes k of every byte of `row` (no −Σx̂ yet), in lanes k.
    @inline(__always)
    static func fourDots(_ row: UnsafePointer<UInt8>, _ x: UnsafePointer<Int8>, count: Int) -> SIMD4<Int32> {
        var total = SIMD4<Int32>()
        var c = 0
        // Shifts and masks on 32-bit lanes, then a bit cast: Swift's `&>>` and `&` on
        // SIMD32<UInt8> compile to lane-by-lane loops (~100× slower; see BlockTQ2_0.codes).
        @inline(__always) func field(_ w: SIMD8<UInt32>, _ k: UInt32) -> SIMD32<UInt8> {
            unsafeBitCast((w &>> (2 * k)) & 0x0303_0303, to: SIMD32<UInt8>.self)
        }
        while c + 32 <= count {
            // Up to 32 chunks in 16-bit lanes: each multiply-add adds at most 2·2·128 = 512.
            let end = min(count - (count - c) % 32, c + 32 * 32)
            var s0 = SIMD16<Int16>(), s1 = SIMD16<Int16>(), s2 = SIMD16<Int16>(), s3 = SIMD16<Int16>()
            while c < end {
                let bytes = UnsafeRawPointer(row + c).loadUnaligned(as: SIMD8<UInt32>.self)
                let xs = UnsafeRawPointer(x + c).loadUnaligned(as: SIMD32<Int8>.self)
                s0 &+= NativeByteMadd.madd(field(bytes, 0), xs)
                s1 &+= NativeByteMadd.madd(field(bytes, 1), xs)
                s2 &+= NativeByteMadd.madd(field(bytes, 2), xs)
                s3 &+= NativeByteMadd.madd(field(bytes, 3), xs)
                c += 32
            }
            total &+= SIMD4(widenPairs(s0).wrappedSum(), widenPairs(s1).wrappedSum(),
                            widenPairs(s2).wrappedSum(), widenPairs(s3).wrappedSum())
        }
        while c < count {
            let b = Int32(row[c]), v = Int32(x[c])
            total &+= SIMD4(b & 3, (b >> 2) & 3, (b >> 4) & 3, (b >> 6) & 3) &* v
            c += 1
        }
        return total
    }
}
