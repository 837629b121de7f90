import LoomKernels

/// A memory-mapped GGUF model file (versions 2 and 3, little-endian).
///
/// `init` maps the file and validates the whole header — metadata, tensor infos, alignment and
/// every tensor's extent — so that afterwards `data(for:)` pointers are always inside the
/// mapping. Tensor data is never copied. Immutable after `init` (hence `@unchecked Sendable`);
/// the mapping lives as long as this object, so keep it alive while using its pointers.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The format version (2 or 3).
    public let version: UInt32
    /// Alignment of the data section and of each tensor's offset (`general.alignment`, default 32).
    public let alignment: Int
    /// All metadata values by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor descriptions in file order.
    public let tensors: [GGUFTensorInfo]
    /// Absolute file offset of the data section (tensor offsets are relative to it).
    public let dataOffset: Int

    private let mapping: MappedFile
    private let base: UnsafeRawPointer
    private let tensorIndex: [String: Int]
    private let arrayElementTypes: [String: GGUFValueType]

    /// Memory-maps `path` (`PROT_READ`, `MAP_PRIVATE`) and parses its header.
    ///
    /// - Throws: `GGUFError` naming the file, field and byte offset of the first problem found.
    public init(path: String) throws {
        let mapping: MappedFile
        do {
            mapping = try MappedFile(path: path)
        } catch let error as MappedFileError {
            throw GGUFError(path: path, field: "file", offset: nil, reason: error.reason)
        }
        let header = try GGUFParser.parse(base: mapping.base, size: mapping.size, path: path)
        guard let base = mapping.base else {
            // The parser rejects empty files, the only ones without a mapping.
            throw GGUFError(path: path, field: "file", offset: nil, reason: "file is empty")
        }
        self.path = path
        self.mapping = mapping
        self.base = base
        version = header.version
        alignment = header.alignment
        metadata = header.metadata
        metadataKeys = header.metadataKeys
        tensors = header.tensors
        tensorIndex = header.tensorIndex
        arrayElementTypes = header.arrayElementTypes
        dataOffset = header.dataOffset
    }

    /// Size of the file in bytes.
    public var fileSize: Int { mapping.size }

    /// The tensor called `name`, if the file has one.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Pointer to the first byte of `tensor`'s data inside the mapping
    /// (`base + dataOffset + tensor.offset`); `tensor.byteCount` bytes are readable from it.
    /// `tensor` must come from this file's `tensors`.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawPointer {
        base + dataOffset + tensor.offset
    }

    /// `tensor`'s data as a byte buffer inside the mapping.
    public func bytes(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: data(for: tensor), count: tensor.byteCount)
    }

    /// The metadata value for `key`.
    public subscript(key: String) -> GGUFValue? {
        metadata[key]
    }

    /// The element type the file records for the array stored under `key` (`nil` if `key`
    /// is missing or not an array). Needed to copy an *empty* array faithfully.
    public func arrayElementType(forKey key: String) -> GGUFValueType? {
        arrayElementTypes[key]
    }
}
