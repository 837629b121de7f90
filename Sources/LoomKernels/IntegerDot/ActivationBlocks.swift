/// Pointers into a ``QuantizedActivations`` starting at some block.
struct ActivationBlocks {
    let codes: UnsafePointer<Int16>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>
    let codeSums: UnsafePointer<Int32>
    let highCodes: UnsafePointer<Int8>
    let lowCodes: UnsafePointer<Int8>
    /// Σ codes over each 16 elements (two per block), for Q6_K's 16-element groups.
    let halfSums: UnsafePointer<Int32>
    /// 0x0000FFFF, read from memory so the optimiser cannot fold it (see ``pairwiseStep(_:_:_:_:)``).
    let lowHalfMask: UInt32

    init(_ a: QuantizedActivations, block: Int = 0) {
        lowHalfMask = a.lowHalfMask
        codes = UnsafePointer(a.codes + 32 * block)
        scales = UnsafePointer(a.scales + block)
        sums = UnsafePointer(a.sums + block)
        codeSums = UnsafePointer(a.codeSums + block)
        highCodes = UnsafePointer(a.highCodes + 32 * block)
        lowCodes = UnsafePointer(a.lowCodes + 32 * block)
        halfSums = UnsafePointer(a.halfSums + 2 * block)
    }

    /// Block `b`'s high code plane (``QuantizedActivations/highCodes``), 32 bytes.
    @inline(__always) func highPlane(_ b: Int) -> SIMD32<Int8> {
        UnsafeRawPointer(highCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
    }

    /// Block `b`'s low code plane (``QuantizedActivations/lowCodes``), 32 bytes.
    @inline(__always) func lowPlane(_ b: Int) -> SIMD32<Int8> {
        UnsafeRawPointer(lowCodes + 32 * b).loadUnaligned(as: SIMD32<Int8>.self)
    }
}
