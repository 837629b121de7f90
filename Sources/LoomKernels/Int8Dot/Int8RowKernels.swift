/// Row kernels that take the dot product of a stored weight row with activations
/// quantised to 8 bits (``QuantizedActivations``) using integer multiplies — ggml's
/// approach to matrix-vector products, and several times less arithmetic per weight than
/// dequantising to float.
///
/// Supported for the block formats with 32-element groups or K-quant super-blocks that
/// the test models use and their siblings: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
/// Other types (F32, F16, BF16, Q2_K, Q3_K) keep the float kernels of ``RowKernels``.
///
/// The result equals Σ w[i]·x̂[i] up to float rounding, where w is the dequantised row and
/// x̂ the dequantised activations; the integer products are exact.
public enum Int8RowKernels {
    /// Whether `type` has an integer kernel.
    @inlinable public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K: return true
        case .f32, .f16, .bf16, .q2_K, .q3_K: return false
        }
    }

    /// Σ row[i]·x̂[i] over the first `count` elements of `activations` (`count` a multiple of
    /// `type.blockSize`, at most `activations.count`). `type` must be supported.
    public static func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ activations: QuantizedActivations, count: Int) -> Float {
        if count > activations.count { rowLengthFailure(type, count, "Int8RowKernels.dot (longer than the activations)") }
        let a = ActivationBlocks(activations)
        switch type {
        case .q4_0: return BlockQ4_0.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "Int8 dot"))
        case .q4_1: return BlockQ4_1.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "Int8 dot"))
        case .q5_0: return BlockQ5_0.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "Int8 dot"))
        case .q5_1: return BlockQ5_1.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "Int8 dot"))
        case .q8_0: return BlockQ8_0.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 32, "Int8 dot"))
        case .q4_K: return BlockQ4_K.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 256, "Int8 dot"))
        case .q5_K: return BlockQ5_K.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 256, "Int8 dot"))
        case .q6_K: return BlockQ6_K.dotQ8(row, a, blocks: wholeBlocks(type, count, blockSize: 256, "Int8 dot"))
        case .f32, .f16, .bf16, .q2_K, .q3_K:
            fatalError("Int8RowKernels.dot: no integer kernel for \(type)")
        }
    }
}
