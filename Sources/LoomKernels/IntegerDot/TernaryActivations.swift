/// An activation vector quantised for the ternary kernels (``TernaryKernels``): 8-bit codes
/// with one scale per 256 elements, the layout of ggml's `block_q8_K` that llama.cpp's
/// TQ1_0/TQ2_0 dot products take (ggml-cpu `ggml_vec_dot_tq2_0_q8_K`).
///
/// For block b, with `max` the element of largest magnitude, `scales[b] = −max / 127`,
/// `codes[256b + i] = round(x[256b + i] / scales[b])` (|code| ≤ 127; the largest maps to −127)
/// and `sums[b] = Σ codes` — exactly `quantize_row_q8_K_ref`, so the codes equal llama.cpp's. One scale per 256 rather than
/// ``QuantizedActivations``' one per 32 is what makes ternary products cheap: a whole block's
/// products are summed in integers and scaled once (d_w·d_x), and 8-bit codes go to the byte
/// multiply-add 32 at a time. The rounding this adds (1/254 of a block's range) is the same
/// as llama.cpp's and finer than BitNet's own per-token 8-bit activations.
///
/// One buffer is reused for every product of a forward pass (it grows when a longer vector
/// arrives).
///
/// ```swift
/// let a = TernaryActivations()
/// a.quantize(x, count: 2048)
/// let y = TernaryKernels.dot(.tq2_0, row, a, count: 2048)
/// ```
public final class TernaryActivations: @unchecked Sendable {
    /// Elements held (a multiple of 256).
    public private(set) var count = 0
    public private(set) var codes: UnsafeMutablePointer<Int8>
    public private(set) var scales: UnsafeMutablePointer<Float>
    public private(set) var sums: UnsafeMutablePointer<Int32>
    private var capacity: Int

    /// Elements per block.
    public static let blockSize = 256
    /// Largest code magnitude.
    public static let codeLimit: Float = 127

    public init(capacity: Int = 0) {
        self.capacity = max(256, (capacity + 255) / 256 * 256)
        codes = cacheLineAligned(Int8.self, self.capacity)
        scales = .allocate(capacity: self.capacity / 256)
        sums = .allocate(capacity: self.capacity / 256)
    }

    deinit {
        codes.deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    /// Quantises `count` floats (a multiple of 256) from `x`.
    public func quantize(_ x: UnsafePointer<Float>, count: Int) {
        precondition(count >= 0 && count % 256 == 0, "TernaryActivations: \(count) is not a multiple of 256")
        if count > capacity {
            codes.deallocate(); scales.deallocate(); sums.deallocate()
            capacity = count
            codes = cacheLineAligned(Int8.self, count)
            scales = .allocate(capacity: count / 256)
            sums = .allocate(capacity: count / 256)
        }
        self.count = count
        Self.quantize(x, count: count, codes: codes, scales: scales, sums: sums)
    }

    /// The quantisation itself, into caller-owned storage (the prompt kernel lays out many
    /// tokens this way).
    static func quantize(
        _ x: UnsafePointer<Float>, count: Int, codes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
        sums: UnsafeMutablePointer<Int32>
    ) {
        // ggml's `quantize_row_q8_K_ref` operation for operation, so that the codes are
        // llama.cpp's: the element of largest magnitude (the first, on ties) sets
        // iscale = −127/max, codes = nearest(iscale·x) capped at 127, d = 1/iscale. (A negative
        // d with negated codes gives the same products.) |x| and its maximum are taken on the
        // bit patterns, rounding by the 1.5·2²³ trick (ggml's `nearest_int`), so every step but
        // the search for the signed maximum is a whole-vector operation.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        for b in 0..<count / 256 {
            let xb = x + 256 * b
            var m = SIMD16<UInt32>()
            for k in 0..<16 {
                let bits = unsafeBitCast(loadFloats16(xb + 16 * k), to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
                for i in 0..<16 { m[i] = Swift.max(m[i], bits[i]) }
            }
            let amax = Float(bitPattern: horizontalMax(m))
            guard amax > 0 else {
                UnsafeMutableRawPointer(codes + 256 * b).initializeMemory(as: UInt8.self, repeating: 0, count: 256)
                scales[b] = 0
                sums[b] = 0
                continue
            }
            var signedMax = amax
            for j in 0..<256 where abs(xb[j]) == amax { signedMax = xb[j]; break }
            let iscale = -codeLimit / signedMax
            let inverse = SIMD16<Float>(repeating: iscale)
            var total = SIMD16<Int32>()
            for k in 0..<16 {
                var r = unsafeBitCast(loadFloats16(xb + 16 * k) * inverse + magic, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
                r = r.replacing(with: 127, where: r .> 127)
                var c = SIMD16<Int8>()
                for i in 0..<16 { c[i] = Int8(truncatingIfNeeded: r[i]) }
                UnsafeMutableRawPointer(codes + 256 * b + 16 * k).storeBytes(of: c, as: SIMD16<Int8>.self)
                total &+= r
            }
            scales[b] = 1 / iscale
            sums[b] = horizontalSum(total)
        }
    }

    /// Pointers for the kernels.
    var blocks: TernaryActivationBlocks {
        TernaryActivationBlocks(codes: UnsafePointer(codes), scales: UnsafePointer(scales), sums: UnsafePointer(sums))
    }
}

/// Pointers into ternary activations (``TernaryActivations``) starting at some block.
struct TernaryActivationBlocks {
    let codes: UnsafePointer<Int8>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Int32>
}
