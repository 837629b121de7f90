/// The activations of several tokens quantised for ``IntegerBatchKernels``: each token
/// exactly as ``QuantizedActivations`` quantises it (same codes, scales and sums as the
/// single-token kernels see), plus a copy of the codes
/// in pair order — within each block of 32, code j followed by code j + 16 — the order in
/// which the batch kernels unpack weight codes.
///
/// One buffer is reused for every product of a forward pass; it grows only when a larger
/// batch than ever before arrives.
///
/// ```swift
/// let batch = QuantizedActivationBatch()
/// batch.quantize(x, columns: 576, tokens: 8)   // x: [8 × 576] floats
/// ```
public final class QuantizedActivationBatch: @unchecked Sendable {
    /// Codes, scales and sums of all tokens, token after token.
    public let plain = QuantizedActivations()
    /// Codes in pair order, token after token.
    public private(set) var pairs: UnsafeMutablePointer<Int16>
    /// Scales and sums again, block-major (`[block][token]`, ``stride`` per block, zeros past
    /// the last token), so the kernels load a group of tokens' values for one block as one
    /// vector (strided loads became a slow gather).
    public private(set) var scalesByBlock: UnsafeMutablePointer<Float>
    public private(set) var sumsByBlock: UnsafeMutablePointer<Float>
    private var capacity = 0
    private var byBlockCapacity = 0
    /// Entries per block in ``scalesByBlock`` / ``sumsByBlock`` (tokens + 8).
    public private(set) var stride = 0
    /// Elements per token (a multiple of 32).
    public private(set) var columns = 0
    /// Tokens held.
    public private(set) var tokens = 0

    public init() {
        pairs = .allocate(capacity: 1)
        scalesByBlock = .allocate(capacity: 1)
        sumsByBlock = .allocate(capacity: 1)
    }

    deinit {
        pairs.deallocate()
        scalesByBlock.deallocate()
        sumsByBlock.deallocate()
    }

    /// Quantises `tokens` rows of `columns` floats (a multiple of 32), row-major at `x`.
    public func quantize(_ x: UnsafePointer<Float>, columns: Int, tokens: Int) {
        precondition(columns % 32 == 0 && tokens >= 0, "QuantizedActivationBatch: \(columns) columns is not a multiple of 32")
        let count = columns * tokens
        plain.quantize(x, count: count)
        if count > capacity {
            pairs.deallocate()
            capacity = count
            pairs = .allocate(capacity: count)
        }
        let blocks = columns / 32
        stride = tokens + 8
        if blocks * stride > byBlockCapacity {
            scalesByBlock.deallocate(); sumsByBlock.deallocate()
            byBlockCapacity = blocks * stride
            scalesByBlock = .allocate(capacity: byBlockCapacity)
            sumsByBlock = .allocate(capacity: byBlockCapacity)
        }
        self.columns = columns
        self.tokens = tokens
        let codes = plain.codes
        for b in 0..<count / 32 {
            let low = UnsafeRawPointer(codes + 32 * b).loadUnaligned(as: SIMD16<Int16>.self)
            let high = UnsafeRawPointer(codes + 32 * b + 16).loadUnaligned(as: SIMD16<Int16>.self)
            var even = SIMD32<Int16>()
            for j in 0..<16 {
                even[2 * j] = low[j]
                even[2 * j + 1] = high[j]
            }
            UnsafeMutableRawPointer(pairs + 32 * b).storeBytes(of: even, as: SIMD32<Int16>.self)
        }
        scalesByBlock.update(repeating: 0, count: blocks * stride)
        sumsByBlock.update(repeating: 0, count: blocks * stride)
        for t in 0..<tokens {
            for b in 0..<blocks {
                scalesByBlock[b * stride + t] = plain.scales[t * blocks + b]
                sumsByBlock[b * stride + t] = plain.sums[t * blocks + b]
            }
        }
    }

    /// Pointers for the kernels.
    var blocks: BatchActivationBlocks {
        BatchActivationBlocks(
            pairs: UnsafePointer(pairs), scalesByBlock: UnsafePointer(scalesByBlock), sumsByBlock: UnsafePointer(sumsByBlock),
            columns: columns, tokens: tokens, stride: stride)
    }
}
