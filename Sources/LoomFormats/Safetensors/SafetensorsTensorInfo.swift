/// One tensor's header entry in a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    /// Element type.
    public let dtype: SafetensorsDType
    /// Shape in PyTorch order (outermost first; the last dimension is contiguous).
    public let shape: [Int]
    /// Byte range relative to the start of the data section (the header's `data_offsets`).
    public let dataOffsets: Range<Int>

    public init(name: String, dtype: SafetensorsDType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// Number of elements (1 for a scalar, shape `[]`).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Data size in bytes.
    public var byteCount: Int { dataOffsets.count }
}
