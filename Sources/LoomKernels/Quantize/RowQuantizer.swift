/// Quantises rows of `Float` into any ``GGMLType`` — the inverse of
/// ``RowKernels/dequantize(_:_:into:count:)``.
///
/// - Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 give bytes identical to ggml's reference quantisers
///   (`quantize_row_*_ref`) and to gguf-py's `gguf.quants.quantize`.
/// - Q2_K, Q3_K, Q4_K, Q5_K, Q6_K follow llama.cpp's `quantize_row_q*_K_ref` operation for
///   operation (what `llama-quantize` does without an importance matrix).
/// - TQ1_0 and TQ2_0 follow `quantize_row_tq1_0_ref` / `quantize_row_tq2_0_ref` (bytes
///   identical to llama-quantize and gguf-py); ternary input ({−s, 0, +s} per block) is lossless.
/// - F32, F16 and BF16 store the values (F16 and BF16 rounded to nearest even, as ggml).
///
/// Rows are independent, so callers parallelise over rows (see ``ThreadPool``).
///
/// ```swift
/// var blocks = [UInt8](repeating: 0, count: GGMLType.q4_K.byteCount(elements: 4096))
/// row.withUnsafeBufferPointer { src in
///     blocks.withUnsafeMutableBytes { dst in
///         RowQuantizer.quantize(.q4_K, src.baseAddress!, into: dst.baseAddress!, count: 4096)
///     }
/// }
/// ```
public enum RowQuantizer {
    /// Whether a row of `count` elements can be stored as `type` (a whole number of blocks;
    /// never for the integer type I8).
    public static func canQuantize(_ type: GGMLType, count: Int) -> Bool {
        !type.holdsIntegers && count >= 0 && count % type.blockSize == 0
    }

    /// Quantises `count` floats at `src` into `type.byteCount(elements: count)` bytes at `dst`.
    ///
    /// `count` must be a multiple of `type.blockSize` (check with ``canQuantize(_:count:)``);
    /// a count that is not stops the process with a message naming type and count, as for
    /// the row kernels. `dst` may have any alignment.
    public static func quantize(_ type: GGMLType, _ src: UnsafePointer<Float>, into dst: UnsafeMutableRawPointer, count: Int) {
        precondition(canQuantize(type, count: count),
                     "RowQuantizer.quantize: \(count) elements is not a whole number of \(type) blocks of \(type.blockSize)")
        let blocks = count / type.blockSize
        switch type {
        case .f32:
            for i in 0..<count { dst.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for i in 0..<count { dst.storeBytes(of: floatToHalf(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0..<count { dst.storeBytes(of: floatToBF16(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .q8_0: LegacyBlockQuantizer.quantizeQ8_0(src, dst, blocks: blocks)
        case .q4_0: LegacyBlockQuantizer.quantizeQ4_0(src, dst, blocks: blocks)
        case .q4_1: LegacyBlockQuantizer.quantizeQ4_1(src, dst, blocks: blocks)
        case .q5_0: LegacyBlockQuantizer.quantizeQ5_0(src, dst, blocks: blocks)
        case .q5_1: LegacyBlockQuantizer.quantizeQ5_1(src, dst, blocks: blocks)
        case .q2_K: KBlockQuantizer.quantizeQ2_K(src, dst, blocks: blocks)
        case .q3_K: KBlockQuantizer.quantizeQ3_K(src, dst, blocks: blocks)
        case .q4_K: KBlockQuantizer.quantizeQ4_K(src, dst, blocks: blocks)
        case .q5_K: KBlockQuantizer.quantizeQ5_K(src, dst, blocks: blocks)
        case .q6_K: KBlockQuantizer.quantizeQ6_K(src, dst, blocks: blocks)
        case .tq1_0: TernaryBlockQuantizer.quantizeTQ1_0(src, dst, blocks: blocks)
        case .tq2_0: TernaryBlockQuantizer.quantizeTQ2_0(src, dst, blocks: blocks)
        case .i8: preconditionFailure("RowQuantizer.quantize: I8 holds integers (checked by canQuantize)")
        }
    }

    /// Convenience: quantises `row` (a whole number of blocks) into a new byte array.
    public static func quantize(_ type: GGMLType, _ row: [Float]) -> [UInt8] {
        precondition(canQuantize(type, count: row.count),
                     "RowQuantizer.quantize: \(row.count) elements is not a whole number of \(type) blocks")
        guard !row.isEmpty else { return [] }
        var out = [UInt8](repeating: 0, count: type.byteCount(elements: row.count))
        row.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBytes { dst in
                quantize(type, src.baseAddress!, into: dst.baseAddress!, count: row.count)
            }
        }
        return out
    }
}
