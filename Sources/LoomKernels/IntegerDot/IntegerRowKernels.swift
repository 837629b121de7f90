/// Row kernels that take the dot product of a stored weight row with activations
/// quantised to small integers (``QuantizedActivations``) using 16-bit integer multiplies —
/// ggml's approach to matrix-vector products: the weight codes are never converted to
/// float, only one partial sum per block is.
///
/// Supported for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K. Other types (F32, F16,
/// BF16, Q2_K, Q3_K) keep the float kernels of ``RowKernels``; TQ1_0 and TQ2_0 have their own
/// (``TernaryKernels``).
///
/// The result equals Σ w[i]·x̂[i] up to float rounding, where w is the dequantised row and
/// x̂ the dequantised activations; the integer products are exact.
public enum IntegerRowKernels {
    /// Whether `type` has an integer kernel.
    @inlinable public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: return true
        case .f32, .f16, .bf16, .q2_K, .q3_K, .tq1_0, .tq2_0, .i8: return false
        }
    }

    /// Whether matrix products should use the integer kernel for `type`: supported and
    /// measured faster than the float kernel on an AVX-512 Zen 4 (BENCHMARKS.md, "Kernel
    /// design measurements"). Q6_K's 16-bit integer kernel measured slightly slower there, so
    /// Q6_K takes the integer path only with its byte kernel (IntegerDotQ6_K.swift, AVX2),
    /// measured 1.6–1.7× as fast as the float kernel on an AVX2 Zen host (BENCHMARKS.md).
    public static func isPreferred(_ type: GGMLType) -> Bool {
        supports(type) && (type != .q6_K || BlockQ6_K.hasByteKernel)
    }

    /// Σ row[i]·x̂[i] over the first `count` elements of `activations` (`count` a multiple of
    /// `type.blockSize`, at most `activations.count`). `type` must be supported.
    public static func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ activations: QuantizedActivations, count: Int) -> Float {
        if count > activations.count { rowLengthFailure(type, count, "IntegerRowKernels.dot (longer than the activations)") }
        return dot(type, row, ActivationBlocks(activations), count: count)
    }

    /// Whether `type` has a four-row decode kernel on this build (``dotFourRows(_:_:rowBytes:_:count:)``):
    /// Q4_0 and Q5_0 where the byte dot is native (on AVX2 alone, LLVM's SLP vectoriser
    /// rearranged the four rows' float accumulation into shuffles, and the kernel ran at 253 ns
    /// a 4096-wide row against the row kernel's 235; scripts/bench_row_kernels.swift), and the formats with
    /// an offset (Q4_1, Q5_1) everywhere (``offsetDotFourRows``, whose single float chain per
    /// row needs the four rows to hide its latency). (Q8_0's, twice as fast as its row kernel
    /// on rows in L2, streamed rows from DRAM at half the rate, and SmolLM2 Q8_0 decode was
    /// slower with it; BENCHMARKS.md, "Kernel design measurements".)
    static func hasFourRowKernel(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_1, .q5_1: return true
        case .q4_0, .q5_0: return IntegerDotBytes.isNative
        case .q8_0, .f32, .f16, .bf16, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .tq1_0, .tq2_0, .i8: return false
        }
    }

    /// The dots of the four rows at `row + k·rowBytes` (k = 0..<4) with the activations, one
    /// per lane. Every lane runs the same operations, so `rowBytes` = 0 (the row at `row`
    /// four times) gives a row alone exactly the value it gets in a group of four: results
    /// do not depend on how a caller groups rows. `type` must have a four-row kernel.
    static func dotFourRows(_ type: GGMLType, _ row: UnsafeRawPointer, rowBytes: Int, _ a: ActivationBlocks, count: Int) -> SIMD4<Float> {
        let blocks = wholeBlocks(type, count, blockSize: 32, "four-row integer dot")
        switch type {
        case .q4_0: return byteDotFourRows(BlockQ4_0.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case .q4_1:
            if !IntegerDotBytes.isNative { return offsetDotFourRows(BlockQ4_1.self, row, rowBytes: rowBytes, a, blocks: blocks) }
            return byteDotFourRows(BlockQ4_1.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case .q5_0: return byteDotFourRows(BlockQ5_0.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case .q5_1:
            if !IntegerDotBytes.isNative { return offsetDotFourRows(BlockQ5_1.self, row, rowBytes: rowBytes, a, blocks: blocks) }
            return byteDotFourRows(BlockQ5_1.self, row, rowBytes: rowBytes, a, blocks: blocks)
        case .q8_0, .f32, .f16, .bf16, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .tq1_0, .tq2_0, .i8:
            fatalError("IntegerRowKernels.dotFourRows: no four-row kernel for \(type)")
        }
    }

    /// ``dot(_:_:_:count:)`` on pointers into the activations (`count` already checked).
    static func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ a: ActivationBlocks, count: Int) -> Float {
        switch type {
        case .q4_0: return BlockQ4_0.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "integer dot"))
        case .q4_1: return BlockQ4_1.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "integer dot"))
        case .q5_0: return BlockQ5_0.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "integer dot"))
        case .q5_1: return BlockQ5_1.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "integer dot"))
        case .q8_0: return BlockQ8_0.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "integer dot"))
        case .q4_K: return BlockQ4_K.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 256, "integer dot"))
        case .q5_K: return BlockQ5_K.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 256, "integer dot"))
        case .q6_K: return BlockQ6_K.dotInteger(row, a, blocks: wholeBlocks(type, count, blockSize: 256, "integer dot"))
        case .f32, .f16, .bf16, .q2_K, .q3_K, .tq1_0, .tq2_0, .i8:
            fatalError("IntegerRowKernels.dot: no integer kernel for \(type)")
        }
    }
}
