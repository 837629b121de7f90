import LoomKernels

/// Builds a GGUF v3 file and writes it atomically.
///
/// The layout matches gguf-py's `GGUFWriter` byte for byte: header, metadata in insertion
/// order, tensor infos, zero padding to the alignment, then each tensor's data padded to the
/// alignment. Tensor offsets are assigned as they are added (from the shapes alone), so a
/// tensor's bytes can be supplied later by a producer closure that `write(to:)` calls while
/// streaming: converters and the quantiser hold one output tensor in memory at a time, not
/// the whole model. Used by tests to build synthetic models and by converters.
public struct GGUFWriter {
    /// Alignment of the data section and of every tensor.
    public let alignment: Int

    /// The name used as `GGUFError.path` for errors raised before a path is known.
    static let errorPath = "GGUFWriter"

    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var emptyArrayTypes: [String: GGUFValueType] = [:]
    private var tensorInfos: [GGUFTensorInfo] = []
    private var tensorSources: [() throws -> [UInt8]] = []
    private var tensorNames: Set<String> = []
    private var nextOffset = 0

    /// Creates an empty writer. An `alignment` other than 32 is recorded as `general.alignment`
    /// (appended after the other metadata unless set explicitly). It must be a non-zero power
    /// of two; `addTensor` and `write` throw otherwise.
    public init(alignment: Int = 32) {
        self.alignment = alignment
    }

    /// Sets `key` to `value`. A new key goes after the existing ones; re-setting a key replaces
    /// its value in place. Empty arrays are written as `UINT8` arrays; use
    /// `setMetadata(_:emptyArrayOf:)` to record another element type.
    public mutating func setMetadata(_ key: String, _ value: GGUFValue) {
        if values.updateValue(value, forKey: key) == nil {
            keys.append(key)
        }
        emptyArrayTypes[key] = nil
    }

    /// Sets `key` to an empty array whose element type is `elementType`.
    public mutating func setMetadata(_ key: String, emptyArrayOf elementType: GGUFValueType) {
        setMetadata(key, .array([]))
        emptyArrayTypes[key] = elementType
    }

    /// Copies every metadata key of `file` but those in `excluded`, in the file's order, with
    /// empty arrays keeping their element type: what a tool that rewrites a model's tensors
    /// (quantize, LoRA merge, QAT export) keeps of its input.
    public mutating func copyMetadata(from file: GGUFFile, excluding excluded: Set<String> = []) {
        for key in file.metadataKeys where !excluded.contains(key) {
            guard let value = file[key] else { continue }
            if case .array(let items) = value, items.isEmpty, let element = file.arrayElementType(forKey: key) {
                setMetadata(key, emptyArrayOf: element)
            } else {
                setMetadata(key, value)
            }
        }
    }

    /// Adds a tensor with `data` as its raw bytes (already in `type`'s block format).
    ///
    /// - Parameter dimensions: ggml `ne` order, innermost first; 0 to 4 positive sizes, with
    ///   `dimensions[0]` a multiple of the type's block size.
    /// - Throws: `GGUFError` if the name is taken, the shape is invalid, or `data.count` is not
    ///   the exact byte size of the shape.
    public mutating func addTensor(name: String, type: GGMLType, dimensions: [Int], data: [UInt8]) throws {
        let expected = try declareTensor(name: name, type: type, dimensions: dimensions)
        guard data.count == expected else {
            throw GGUFError(path: Self.errorPath, field: "tensor '\(name)'", offset: nil,
                            reason: "data has \(data.count) bytes, but \(dimensions) of \(type) needs \(expected)")
        }
        commitTensor(name: name, type: type, dimensions: dimensions, byteCount: expected) { data }
    }

    /// Adds a tensor whose bytes `produce` returns when ``write(to:)`` reaches it (tensors are
    /// produced one at a time, in the order they were added, so only one is held in memory).
    ///
    /// The shape is checked now; the byte count when the data is produced (a mismatch makes
    /// `write` throw and leaves no file).
    public mutating func addTensor(name: String, type: GGMLType, dimensions: [Int],
                                   producer produce: @escaping () throws -> [UInt8]) throws {
        let expected = try declareTensor(name: name, type: type, dimensions: dimensions)
        commitTensor(name: name, type: type, dimensions: dimensions, byteCount: expected, produce)
    }

    /// Validates a new tensor's name and shape; returns its exact data size in bytes.
    private func declareTensor(name: String, type: GGMLType, dimensions: [Int]) throws -> Int {
        let field = "tensor '\(name)'"
        func fail(_ reason: String) -> GGUFError {
            GGUFError(path: Self.errorPath, field: field, offset: nil, reason: reason)
        }
        try checkAlignment()
        guard !tensorNames.contains(name) else { throw fail("duplicate tensor name") }
        guard dimensions.count <= GGUFParser.maxDimensions else {
            throw fail("\(dimensions.count) dimensions, at most \(GGUFParser.maxDimensions) are supported")
        }
        var elements = 1
        for (axis, size) in dimensions.enumerated() {
            guard size > 0 else { throw fail("dimension ne[\(axis)] = \(size) is not positive") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("element count overflows 64 bits") }
            elements = product
        }
        let rowLength = dimensions.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw fail("row length \(rowLength) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        let (expected, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
        guard !overflow else { throw fail("data size overflows 64 bits") }
        let (unpadded, overflowEnd) = nextOffset.addingReportingOverflow(expected)
        guard !overflowEnd, GGUFCursor.padded(unpadded, to: alignment) != nil else {
            throw fail("data offset overflows 64 bits")
        }
        return expected
    }

    private mutating func commitTensor(name: String, type: GGMLType, dimensions: [Int], byteCount: Int,
                                       _ produce: @escaping () throws -> [UInt8]) {
        tensorInfos.append(GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: nextOffset))
        tensorSources.append(produce)
        tensorNames.insert(name)
        nextOffset = GGUFCursor.padded(nextOffset + byteCount, to: alignment)!
    }

    /// Writes the file to a temporary file in the same directory, fsyncs it and renames it
    /// over `path`, so `path` never holds a half-written model. Tensor producers run here, one
    /// at a time in order; an error from one (or a wrong byte count) removes the temporary file.
    public func write(to path: String) throws {
        let header = try encodeHeader()
        try GGUFFileSink.writeAtomically(to: path) { sink in
            try sink.write(header)
            for (info, produce) in zip(tensorInfos, tensorSources) {
                let data = try produce()
                let expected = info.type.byteCount(elements: info.dimensions.reduce(1, *))
                guard data.count == expected else {
                    throw GGUFError(path: path, field: "tensor '\(info.name)'", offset: nil,
                                    reason: "producer returned \(data.count) bytes, but \(info.dimensions) of \(info.type) needs \(expected)")
                }
                try sink.write(data)
                try sink.writeZeros(GGUFCursor.padded(data.count, to: alignment)! - data.count)
            }
        }
    }

    /// The encoded header, metadata and tensor infos, padded to the alignment (everything
    /// that precedes the data section).
    func encodeHeader() throws -> [UInt8] {
        try checkAlignment()
        var keys = self.keys
        var values = self.values
        if let explicit = values[GGUFParser.alignmentKey] {
            guard explicit.intValue == alignment, explicit.type == .uint32 else {
                throw GGUFError(path: Self.errorPath, field: GGUFParser.alignmentKey, offset: nil,
                                reason: "set to \(explicit) but the writer aligns to UINT32 \(alignment)")
            }
        } else if alignment != GGUFParser.defaultAlignment {
            keys.append(GGUFParser.alignmentKey)
            values[GGUFParser.alignmentKey] = .uint32(UInt32(alignment))
        }

        var out = GGUFEncoder()
        out.bytes.append(contentsOf: GGUFParser.magic)
        out.append(UInt32(3))
        out.append(Int64(tensorInfos.count))
        out.append(Int64(keys.count))
        for key in keys {
            out.appendString(key)
            try out.appendValue(values[key]!, key: key, emptyArrayType: emptyArrayTypes[key] ?? .uint8)
        }
        for info in tensorInfos {
            out.appendString(info.name)
            out.append(UInt32(info.dimensions.count))
            for size in info.dimensions { out.append(Int64(size)) }
            out.append(info.type.rawValue)
            out.append(UInt64(info.offset))
        }
        out.bytes.append(contentsOf: repeatElement(0, count: GGUFCursor.padded(out.bytes.count, to: alignment)! - out.bytes.count))
        return out.bytes
    }

    private func checkAlignment() throws {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 30 else {
            throw GGUFError(path: Self.errorPath, field: "alignment", offset: nil,
                            reason: "alignment \(alignment) is not a non-zero power of two (at most 2^30)")
        }
    }
}
