/// An activation vector quantised to 8-bit codes in blocks of 32, for the integer
/// row·activation kernels of ``Int8RowKernels`` (the idea of ggml's Q8_0/Q8_1 activation
/// blocks).
///
/// For block b, `scales[b] = max|x| / 127` and `codes[32b + i] = round(x[32b + i] / scales[b])`
/// (so |code| ≤ 127); `sums[b] = scales[b] · Σ codes` feeds the offset (`m`, `dmin`) terms
/// of the formats that have one. Codes are stored widened to `Int16` so the kernels can
/// multiply them straight from memory with 16-bit lanes (the products of a 5-bit or 8-bit
/// weight code and a code here fit in 16 bits; see ``Int8RowKernels``). Scales stay `Float`
/// (ggml rounds them to fp16), so the only error added to a dot product is the rounding of
/// each activation to 1/254 of its block's range.
///
/// One buffer is reused for every product of a forward pass: ``quantize(_:count:)`` grows it
/// only when a longer vector than ever before arrives.
///
/// ```swift
/// let a = QuantizedActivations()
/// a.quantize(x, count: 576)
/// let y = Int8RowKernels.dot(.q4_1, row, a, count: 576)
/// ```
public final class QuantizedActivations: @unchecked Sendable {
    /// Elements currently held (a multiple of 32).
    public private(set) var count = 0
    public private(set) var codes: UnsafeMutablePointer<Int16>
    public private(set) var scales: UnsafeMutablePointer<Float>
    public private(set) var sums: UnsafeMutablePointer<Float>
    private var capacity: Int

    /// Elements per quantisation block.
    public static let blockSize = 32

    public init(capacity: Int = 0) {
        self.capacity = max(32, (capacity + 31) / 32 * 32)
        codes = .allocate(capacity: self.capacity)
        scales = .allocate(capacity: self.capacity / 32)
        sums = .allocate(capacity: self.capacity / 32)
    }

    deinit {
        codes.deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    /// Quantises `count` floats (a multiple of 32) from `x`.
    public func quantize(_ x: UnsafePointer<Float>, count: Int) {
        precondition(count >= 0 && count % 32 == 0, "QuantizedActivations: \(count) is not a multiple of 32")
        if count > capacity {
            codes.deallocate(); scales.deallocate(); sums.deallocate()
            capacity = count
            codes = .allocate(capacity: count)
            scales = .allocate(capacity: count / 32)
            sums = .allocate(capacity: count / 32)
        }
        self.count = count
        for b in 0..<count / 32 {
            let v0 = loadFloats16(x + 32 * b), v1 = loadFloats16(x + 32 * b + 16)
            var m = SIMD16<Float>()
            for i in 0..<16 { m[i] = max(abs(v0[i]), abs(v1[i])) }
            let amax = horizontalMax(m)
            let d = amax / 127
            let inverse: Float = d > 0 ? 1 / d : 0
            var c0 = SIMD16<Int16>(), c1 = SIMD16<Int16>()
            for i in 0..<16 {
                c0[i] = Int16(truncatingIfNeeded: Int32((v0[i] * inverse).rounded(.toNearestOrEven)))
                c1[i] = Int16(truncatingIfNeeded: Int32((v1[i] * inverse).rounded(.toNearestOrEven)))
            }
            let raw = UnsafeMutableRawPointer(codes + 32 * b)
            raw.storeBytes(of: c0, as: SIMD16<Int16>.self)
            raw.storeBytes(of: c1, toByteOffset: 32, as: SIMD16<Int16>.self)
            var s = SIMD16<Int32>()
            for i in 0..<16 { s[i] = Int32(c0[i]) &+ Int32(c1[i]) }
            scales[b] = d
            sums[b] = d * Float(s.wrappedSum())
        }
    }
}

/// Largest of sixteen lanes as a balanced tree.
@inline(__always)
func horizontalMax(_ v: SIMD16<Float>) -> Float {
    var a = SIMD8<Float>()
    for i in 0..<8 { a[i] = max(v[i], v[i + 8]) }
    var b = SIMD4<Float>()
    for i in 0..<4 { b[i] = max(a[i], a[i + 4]) }
    return max(max(b[0], b[1]), max(b[2], b[3]))
}
