/// Per-row kernels over weights stored in any supported ``GGMLType``: dequantise a row to
/// `Float`, or take its dot product with a `Float` activation vector without materialising
/// the dequantised row.
///
/// These are the innermost calls of a matrix-vector product (one call per weight row), so
/// each dispatches once on the type and then runs a SIMD loop specialised for that block
/// layout: codes are unpacked into `SIMD16<UInt8>`, widened to `SIMD16<Float>` and combined
/// with the activations by fused multiply-add. These float kernels serve prompt batches
/// (through dequantised tiles), the formats without an integer kernel, and comparisons;
/// single-token products of 4- to 6-bit formats use ``IntegerRowKernels`` instead.
///
/// Row lengths must be whole blocks (``GGMLType/blockSize``); the GGUF reader guarantees it
/// for tensor rows. A length that is not is a programming error and stops the process with
/// a message naming the type and length, in every build mode.
///
/// ```swift
/// // y[r] = W[r, :] · x for a Q4_K matrix with `cols` columns
/// let rowBytes = GGMLType.q4_K.byteCount(elements: cols)
/// for r in 0..<rows {
///     y[r] = RowKernels.dot(.q4_K, weights + r * rowBytes, x, count: cols)
/// }
/// ```
public enum RowKernels {
    /// Dequantises `count` elements (a multiple of `type.blockSize`) stored at `src` into `dst`.
    ///
    /// The results are bit-identical to ggml's `dequantize_row_*` (and gguf-py's
    /// `gguf.quants.dequantize`): every value is computed with the same float operations in
    /// the same order, with no fused multiply-add.
    ///
    /// - Parameters:
    ///   - type: storage type of the row.
    ///   - src: first byte of the row; any alignment.
    ///   - dst: room for `count` floats.
    ///   - count: number of elements.
    public static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .f32:
            FloatRows.dequantizeF32(src, into: dst, count: wholeBlocks(type, count, blockSize: 1, "dequantize"))
        case .f16:
            FloatRows.dequantizeF16(src, into: dst, count: wholeBlocks(type, count, blockSize: 1, "dequantize"))
        case .bf16:
            FloatRows.dequantizeBF16(src, into: dst, count: wholeBlocks(type, count, blockSize: 1, "dequantize"))
        case .q4_0:
            BlockQ4_0.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 32, "dequantize"))
        case .q4_1:
            BlockQ4_1.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 32, "dequantize"))
        case .q5_0:
            BlockQ5_0.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 32, "dequantize"))
        case .q5_1:
            BlockQ5_1.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 32, "dequantize"))
        case .q8_0:
            BlockQ8_0.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 32, "dequantize"))
        case .q2_K:
            BlockQ2_K.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .q3_K:
            BlockQ3_K.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .q4_K:
            BlockQ4_K.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .q5_K:
            BlockQ5_K.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .q6_K:
            BlockQ6_K.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .tq1_0:
            BlockTQ1_0.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .tq2_0:
            BlockTQ2_0.dequantize(src, into: dst, blocks: wholeBlocks(type, count, blockSize: 256, "dequantize"))
        case .i8:
            FloatRows.dequantizeI8(src, into: dst, count: count)
        }
    }

    /// Σ row[i]·x[i] over `count` elements (a multiple of `type.blockSize`) of a stored row of `type`.
    ///
    /// Accumulates in `Float` with several independent SIMD accumulators, so the result
    /// differs from an exact sum by rounding only (relative to Σ|row[i]·x[i]|, about
    /// √count·2⁻²⁴ typically).
    ///
    /// - Parameters:
    ///   - type: storage type of the row.
    ///   - row: first byte of the row; any alignment.
    ///   - x: `count` activations.
    ///   - count: number of elements.
    public static func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch type {
        case .f32:
            return FloatRows.dotF32(row, x, count: wholeBlocks(type, count, blockSize: 1, "dot"))
        case .f16:
            return FloatRows.dotF16(row, x, count: wholeBlocks(type, count, blockSize: 1, "dot"))
        case .bf16:
            return FloatRows.dotBF16(row, x, count: wholeBlocks(type, count, blockSize: 1, "dot"))
        case .q4_0:
            return BlockQ4_0.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 32, "dot"))
        case .q4_1:
            return BlockQ4_1.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 32, "dot"))
        case .q5_0:
            return BlockQ5_0.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 32, "dot"))
        case .q5_1:
            return BlockQ5_1.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 32, "dot"))
        case .q8_0:
            return BlockQ8_0.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 32, "dot"))
        case .q2_K:
            return BlockQ2_K.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .q3_K:
            return BlockQ3_K.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .q4_K:
            return BlockQ4_K.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .q5_K:
            return BlockQ5_K.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .q6_K:
            return BlockQ6_K.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .tq1_0:
            return BlockTQ1_0.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .tq2_0:
            return BlockTQ2_0.dot(row, x, blocks: wholeBlocks(type, count, blockSize: 256, "dot"))
        case .i8:
            return FloatRows.dotI8(row, x, count: count)
        }
    }

    /// Σ a[i]·b[i] over `count` floats (any count ≥ 0; the tail that does not fill a SIMD
    /// vector is added in scalar code).
    ///
    /// ```swift
    /// let s = RowKernels.dotF32(q, k, count: headDim)
    /// ```
    public static func dotF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        FloatRows.dotF32(UnsafeRawPointer(a), b, count: wholeBlocks(.f32, count, blockSize: 1, "dotF32"))
    }
}
