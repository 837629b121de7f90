/// Every token of a decode batch quantised on its own, exactly as a single-token product
/// quantises its one token (``QuantizedActivations``, ``TernaryActivations``): the activations
/// of ``MatMul``'s batch-invariant decode path, which runs the single-token kernels once per
/// token so that a row's result does not depend on the other rows of the step.
///
/// Owned by a ``ThreadPool`` (one dispatch at a time uses it) and reused between steps: the
/// buffers only grow.
final class TokenActivationSet: @unchecked Sendable {
    private var integer: [QuantizedActivations] = []
    private var ternary: [TernaryActivations] = []
    private var integerBlocks = UnsafeMutablePointer<ActivationBlocks>.allocate(capacity: 1)
    private var integerCapacity = 1
    private var ternaryBlocks = UnsafeMutablePointer<TernaryActivationBlocks>.allocate(capacity: 1)
    private var ternaryCapacity = 1

    deinit {
        integerBlocks.deallocate()
        ternaryBlocks.deallocate()
    }

    /// Quantises rows `0..<tokens` of `x` (`[tokens × columns]`) for the integer kernels;
    /// element t of the result points at token t's codes. Valid until the next call.
    func quantize(_ x: UnsafePointer<Float>, columns: Int, tokens: Int) -> UnsafePointer<ActivationBlocks> {
        while integer.count < tokens { integer.append(QuantizedActivations(capacity: columns)) }
        Self.grow(&integerBlocks, &integerCapacity, to: tokens)
        for t in 0..<tokens {
            integer[t].quantize(x + t * columns, count: columns)
            (integerBlocks + t).initialize(to: ActivationBlocks(integer[t]))
        }
        return UnsafePointer(integerBlocks)
    }

    /// The same for the ternary kernels (``TernaryActivations``).
    func quantizeTernary(_ x: UnsafePointer<Float>, columns: Int, tokens: Int) -> UnsafePointer<TernaryActivationBlocks> {
        while ternary.count < tokens { ternary.append(TernaryActivations(capacity: columns)) }
        Self.grow(&ternaryBlocks, &ternaryCapacity, to: tokens)
        for t in 0..<tokens {
            ternary[t].quantize(x + t * columns, count: columns)
            (ternaryBlocks + t).initialize(to: ternary[t].blocks)
        }
        return UnsafePointer(ternaryBlocks)
    }

    /// Reallocates `pointer` (holding `capacity` elements, none to keep) for at least `count`.
    private static func grow<T>(_ pointer: inout UnsafeMutablePointer<T>, _ capacity: inout Int, to count: Int) {
        guard capacity < count else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: count)
        capacity = count
    }
}
