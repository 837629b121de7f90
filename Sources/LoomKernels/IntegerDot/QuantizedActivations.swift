/// An activation vector quantised to 10-bit signed integer codes in blocks of 32, for the
/// integer row·activation kernels of ``IntegerRowKernels`` (the idea of ggml's Q8_0/Q8_1
/// activation blocks, with two more bits).
///
/// For block b, `scales[b] = max|x| / 511` and `codes[32b + i] = round(x[32b + i] / scales[b])`
/// (so |code| ≤ ``codeLimit``); `sums[b] = scales[b] · Σ codes` feeds the offset (`m`,
/// `dmin`) terms of the formats that have one, and `codeSums[b] = Σ codes` the constant
/// code offsets of Q4_0 and Q5_0 (Σ (q − c)·x = Σ q·x − c·Σ x, exactly in integers).
/// Codes are stored as `Int16` and the kernels
/// multiply in 16-bit lanes, so the range is chosen as large as those lanes allow: two
/// products of a code with a weight code of up to 5 bits (|q| ≤ 31) sum to at most
/// 2·31·511 = 31682 < 2¹⁵. ggml uses 8-bit codes (±127); 10 bits cost nothing extra here
/// and make the activation rounding 4× smaller (the 8-bit version moved log-probs of the
/// test models by up to 0.08 against the float64 reference at the prompt-path fixture
/// positions, 10 bits keep them within the float path's 0.05; token-by-token decode with
/// these codes was measured at up to 0.147 (SmolLM2) and 0.073 (Qwen2.5) from the float64
/// fixtures, llama.cpp's own 8-bit decode at 0.60 and 0.43). Scales stay `Float` (ggml
/// rounds them to fp16), so the only error added to a dot product is the rounding of each activation to 1/1022 of its block's range.
///
/// One buffer is reused for every product of a forward pass: ``quantize(_:count:)`` grows it
/// only when a longer vector than ever before arrives.
///
/// ```swift
/// let a = QuantizedActivations()
/// a.quantize(x, count: 576)
/// let y = IntegerRowKernels.dot(.q4_1, row, a, count: 576)
/// ```
public final class QuantizedActivations: @unchecked Sendable {
    /// Elements currently held (a multiple of 32).
    public private(set) var count = 0
    public private(set) var codes: UnsafeMutablePointer<Int16>
    public private(set) var scales: UnsafeMutablePointer<Float>
    public private(set) var sums: UnsafeMutablePointer<Float>
    public private(set) var codeSums: UnsafeMutablePointer<Int32>
    /// Σ codes over each half block (elements 16k..<16k + 16), for the 16-element groups of Q6_K.
    public private(set) var halfSums: UnsafeMutablePointer<Int32>
    /// The codes split as `code = 4·highCodes + lowCodes` with `highCodes = code >> 2`
    /// (−128...127) and `lowCodes = code & 3` (0...3): two byte planes for the byte-dot
    /// kernels (``IntegerDotBytes``), which multiply bytes only.
    public private(set) var highCodes: UnsafeMutablePointer<Int8>
    public private(set) var lowCodes: UnsafeMutablePointer<Int8>
    private var capacity: Int
    /// Always 0x0000FFFF; a stored property so kernels can use it as an opaque mask.
    let lowHalfMask: UInt32 = 0x0000_FFFF

    /// Elements per quantisation block.
    public static let blockSize = 32
    /// Largest code magnitude of the one-token kernels (10-bit signed codes).
    public static let codeLimit = 511
    /// Largest code magnitude of these activations: ``codeLimit`` for the one-token kernels,
    /// whose 16-bit lane sums bound it; the prompt kernel, which sums in 32-bit lanes, asks
    /// for ``IntegerPromptKernel/promptCodeLimit``.
    public let limit: Int

    public init(capacity: Int = 0, codeLimit: Int = QuantizedActivations.codeLimit) {
        precondition(codeLimit > 0 && codeLimit < 1 << 15, "QuantizedActivations: codes must fit Int16")
        limit = codeLimit
        self.capacity = max(32, (capacity + 31) / 32 * 32)
        codes = cacheLineAligned(Int16.self, self.capacity)
        scales = .allocate(capacity: self.capacity / 32)
        sums = .allocate(capacity: self.capacity / 32)
        codeSums = .allocate(capacity: self.capacity / 32)
        halfSums = .allocate(capacity: self.capacity / 16)
        highCodes = cacheLineAligned(Int8.self, self.capacity)
        lowCodes = cacheLineAligned(Int8.self, self.capacity)
    }

    deinit {
        codes.deallocate()
        scales.deallocate()
        sums.deallocate()
        codeSums.deallocate()
        halfSums.deallocate()
        highCodes.deallocate()
        lowCodes.deallocate()
    }

    /// Whether ``quantize(_:count:)`` fills ``highCodes`` and ``lowCodes`` (only where the
    /// byte-dot kernels run: ``IntegerDotBytes/isFast``). Users of ``codes`` alone (the
    /// prompt kernel's preparation) switch it off.
    var splitsCodes = IntegerDotBytes.isFast

    /// Quantises `count` floats (a multiple of 32) from `x`.
    public func quantize(_ x: UnsafePointer<Float>, count: Int) {
        precondition(count >= 0 && count % 32 == 0, "QuantizedActivations: \(count) is not a multiple of 32")
        if count > capacity {
            codes.deallocate(); scales.deallocate(); sums.deallocate(); codeSums.deallocate(); halfSums.deallocate()
            highCodes.deallocate(); lowCodes.deallocate()
            capacity = count
            codes = cacheLineAligned(Int16.self, count)
            scales = .allocate(capacity: count / 32)
            sums = .allocate(capacity: count / 32)
            codeSums = .allocate(capacity: count / 32)
            halfSums = .allocate(capacity: count / 16)
            highCodes = cacheLineAligned(Int8.self, count)
            lowCodes = cacheLineAligned(Int8.self, count)
        }
        self.count = count
        // Every step is a whole-vector operation: |x| and the maximum on the float bit
        // patterns as integers (equal order for non-negative floats, and no NaN-aware
        // `max`, which compiles to compare-and-blend chains), rounding by the 1.5·2²³
        // trick (adding it leaves round-to-nearest-even(x) in the low mantissa bits, exact
        // for |x| < 2²²), so nothing falls back to per-lane scalar conversions.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        for b in 0..<count / 32 {
            let v0 = loadFloats16(x + 32 * b), v1 = loadFloats16(x + 32 * b + 16)
            let magnitudeBits = (unsafeBitCast(v0, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF)
            let magnitudeBits1 = (unsafeBitCast(v1, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF)
            var m = SIMD16<UInt32>()
            for i in 0..<16 { m[i] = Swift.max(magnitudeBits[i], magnitudeBits1[i]) }
            let amax = Float(bitPattern: horizontalMax(m))
            let d = amax / Float(limit)
            let inverse = SIMD16<Float>(repeating: d > 0 ? 1 / d : 0)
            let r0 = unsafeBitCast(v0 * inverse + magic, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
            let r1 = unsafeBitCast(v1 * inverse + magic, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
            var c0 = SIMD16<Int16>(), c1 = SIMD16<Int16>()
            for i in 0..<16 {
                c0[i] = Int16(truncatingIfNeeded: r0[i])
                c1[i] = Int16(truncatingIfNeeded: r1[i])
            }
            let raw = UnsafeMutableRawPointer(codes + 32 * b)
            raw.storeBytes(of: c0, as: SIMD16<Int16>.self)
            raw.storeBytes(of: c1, toByteOffset: 32, as: SIMD16<Int16>.self)
            if splitsCodes {
                var h0 = SIMD16<Int8>(), h1 = SIMD16<Int8>(), l0 = SIMD16<Int8>(), l1 = SIMD16<Int8>()
                for i in 0..<16 {
                    h0[i] = Int8(truncatingIfNeeded: r0[i] &>> 2)
                    h1[i] = Int8(truncatingIfNeeded: r1[i] &>> 2)
                    l0[i] = Int8(truncatingIfNeeded: r0[i] & 3)
                    l1[i] = Int8(truncatingIfNeeded: r1[i] & 3)
                }
                let high = UnsafeMutableRawPointer(highCodes + 32 * b), low = UnsafeMutableRawPointer(lowCodes + 32 * b)
                high.storeBytes(of: h0, as: SIMD16<Int8>.self)
                high.storeBytes(of: h1, toByteOffset: 16, as: SIMD16<Int8>.self)
                low.storeBytes(of: l0, as: SIMD16<Int8>.self)
                low.storeBytes(of: l1, toByteOffset: 16, as: SIMD16<Int8>.self)
            }
            let firstHalf = horizontalSum(r0), secondHalf = horizontalSum(r1)
            let codeSum = firstHalf &+ secondHalf
            halfSums[2 * b] = firstHalf
            halfSums[2 * b + 1] = secondHalf
            scales[b] = d
            sums[b] = d * Float(codeSum)
            codeSums[b] = codeSum
        }
    }
}

/// `count` uninitialised elements at a 64-byte boundary: the decode kernels load the codes
/// in 32- and 64-byte vectors, which straddle two cache lines at malloc's 16-byte alignment
/// (measured a little faster at 2 threads; BENCHMARKS.md, "Kernel design measurements").
func cacheLineAligned<T>(_: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
    UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<T>.stride, alignment: 64).bindMemory(to: T.self, capacity: count)
}

/// Largest of sixteen unsigned lanes as a balanced tree.
@inline(__always)
func horizontalMax(_ v: SIMD16<UInt32>) -> UInt32 {
    var a = SIMD8<UInt32>()
    for i in 0..<8 { a[i] = Swift.max(v[i], v[i + 8]) }
    var b = SIMD4<UInt32>()
    for i in 0..<4 { b[i] = Swift.max(a[i], a[i + 4]) }
    return Swift.max(Swift.max(b[0], b[1]), Swift.max(b[2], b[3]))
}

/// Sum of sixteen integer lanes as a balanced tree.
@inline(__always)
func horizontalSum(_ v: SIMD16<Int32>) -> Int32 {
    let s8 = v.lowHalf &+ v.highHalf
    let s4 = s8.lowHalf &+ s8.highHalf
    return s4[0] &+ s4[1] &+ s4[2] &+ s4[3]
}
