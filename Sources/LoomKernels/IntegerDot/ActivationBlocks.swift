/// Pointers into a ``QuantizedActivations`` starting at some block.
struct ActivationBlocks {
    let codes: UnsafePointer<Int16>
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>
    let codeSums: UnsafePointer<Int32>
    let highCodes: UnsafePointer<Int8>
    let lowCodes: UnsafePointer<Int8>
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
    }
}
