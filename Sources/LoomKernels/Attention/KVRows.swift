/// One layer's cached keys or values of one sequence as the attention kernels read them:
/// rows of `rowBytes` bytes, one per position, each holding `kvHeads × headDim` elements of
/// `type`, starting at `base` (already offset to a first position and, for a head's view, to
/// the head's first element).
///
/// Float rows are read in place. Other types are dequantised a tile of ``Attention/tileRows``
/// positions at a time into per-worker scratch (the way llama.cpp's CPU flash attention
/// converts each value row to its vector type before accumulating, `ggml-cpu/ops.cpp`
/// `ggml_compute_forward_flash_attn_ext_f16`), then go through the same float kernels, so a
/// cache of type T gives exactly the results of a float cache holding T's values.
public struct KVRows: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let type: GGMLType
    /// Bytes from one position's row to the next.
    public let rowBytes: Int

    public init(base: UnsafeRawPointer, type: GGMLType, rowBytes: Int) {
        self.base = base
        self.type = type
        self.rowBytes = rowBytes
    }

    /// Float rows (`rowStride` floats apart) starting at `floats`.
    public init(floats: UnsafePointer<Float>, rowStride: Int) {
        self.init(base: UnsafeRawPointer(floats), type: .f32, rowBytes: rowStride * MemoryLayout<Float>.stride)
    }

    /// The rows from position `positions` on, starting at element `elements` of each row
    /// (a head's slice: for block types a whole number of blocks in).
    @inlinable public func advanced(positions: Int, elements: Int = 0) -> KVRows {
        KVRows(base: base + positions * rowBytes + type.byteCount(elements: elements), type: type, rowBytes: rowBytes)
    }

    /// The rows as floats and their stride in floats, when they are stored as floats.
    @inlinable public var floats: (pointer: UnsafePointer<Float>, stride: Int)? {
        guard type == .f32 else { return nil }
        return (base.assumingMemoryBound(to: Float.self), rowBytes / MemoryLayout<Float>.stride)
    }

    /// Dequantises `width` elements of each of the `count` rows from position `first` into
    /// `tile`, rows `width` floats apart.
    @inline(__always)
    public func dequantize(first: Int, count: Int, width: Int, into tile: UnsafeMutablePointer<Float>) {
        var src = base + first * rowBytes
        var dst = tile
        for _ in 0..<count {
            RowKernels.dequantize(type, src, into: dst, count: width)
            src += rowBytes
            dst += width
        }
    }
}
