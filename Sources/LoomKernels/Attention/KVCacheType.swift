/// The storage type of cached keys or values (llama.cpp's `--cache-type-k/-v`,
/// `common/arg.cpp` `kv_cache_types`): floats, halves, or 32-element quantised blocks.
///
/// A cache row holds one position's `kvHeads × headDim` elements in this type; the attention
/// kernels read rows of every type directly (``KVRows``), a tile at a time, so the cache is
/// never expanded to floats whole. Block types need whole blocks per head (`headDim` a
/// multiple of 32) so that a head's slice of a row starts on a block.
public enum KVCacheType: String, CaseIterable, Sendable, CustomStringConvertible {
    case f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1

    /// The GGML type the rows are stored in (same bytes as llama.cpp's cache of that type).
    public var ggmlType: GGMLType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q5_0: .q5_0
        case .q5_1: .q5_1
        }
    }

    /// Parses a llama.cpp cache-type name (`f16`, `q8_0`, …; case-insensitive).
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }

    /// The accepted names, for error messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Whether a head of `headDim` elements is a whole number of this type's blocks.
    public func supports(headDim: Int) -> Bool { headDim > 0 && headDim % ggmlType.blockSize == 0 }

    /// Bytes of one cache row of `elements` elements (a whole number of blocks).
    public func rowBytes(elements: Int) -> Int { ggmlType.byteCount(elements: elements) }

    public var description: String { rawValue }
}
