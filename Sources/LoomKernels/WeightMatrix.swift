/// A weight matrix stored in a block format, multiplied in place (never expanded to F32).
///
/// Rows are output features; each row holds `columns` elements (the input features) in
/// `type`'s block format, rows packed back to back. This is ggml's layout: a GGUF tensor
/// with `ne = [columns, rows]`.
public struct WeightMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    public let base: UnsafeRawPointer

    /// Wraps stored rows; `columns` must be a multiple of the type's block size.
    public init(type: GGMLType, rows: Int, columns: Int, base: UnsafeRawPointer) {
        precondition(columns % type.blockSize == 0, "row length \(columns) is not a multiple of the \(type) block size")
        self.type = type
        self.rows = rows
        self.columns = columns
        self.base = base
    }

    /// Bytes per stored row.
    @inlinable public var rowBytes: Int { type.byteCount(elements: columns) }

    /// The start of row `r`.
    @inlinable public func row(_ r: Int) -> UnsafeRawPointer { base + r * rowBytes }

    /// Dequantises row `r` into `destination` (`columns` floats).
    @inlinable public func dequantizeRow(_ r: Int, into destination: UnsafeMutablePointer<Float>) {
        RowKernels.dequantize(type, row(r), into: destination, count: columns)
    }

    /// Rows `range` as a matrix of their own, in place (a fused tensor's parts: Phi-3's
    /// `qkv_proj` holds Q, K and V one after the other).
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        return WeightMatrix(type: type, rows: range.count, columns: columns, base: base + range.lowerBound * rowBytes)
    }
}
