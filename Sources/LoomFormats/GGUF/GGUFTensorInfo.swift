import LoomKernels

/// Where and how one tensor is stored in a GGUF file.
///
/// Created by the reader only after its shape, type, size and offset were validated, so
/// the derived sizes below cannot overflow and always lie inside the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Sizes in ggml `ne` order: `dimensions[0]` is the innermost (fastest-varying) one, the
    /// row length. A PyTorch `[out, in]` weight is stored as `[in, out]`.
    public let dimensions: [Int]
    /// The element type (block format) of the data.
    public let type: GGMLType
    /// Byte offset of the data, relative to the start of the file's data section.
    public let offset: Int

    /// Creates a tensor description. The reader and writer validate these values; code that
    /// builds one by hand must keep `dimensions` positive and `dimensions[0]` a multiple of
    /// `type.blockSize`.
    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
    }

    /// Total number of elements (product of the dimensions; 1 for a scalar).
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Bytes the data takes in the file (without alignment padding).
    public var byteCount: Int { type.byteCount(elements: elementCount) }

    /// Elements per row: `dimensions[0]` (1 for a scalar).
    public var rowLength: Int { dimensions.first ?? 1 }

    /// Number of rows: `elementCount / rowLength`.
    public var rowCount: Int { elementCount / rowLength }
}
