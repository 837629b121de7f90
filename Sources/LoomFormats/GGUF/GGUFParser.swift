import LoomKernels

/// The validated header of a GGUF file: everything before the data section.
struct GGUFHeader {
    var version: UInt32 = 0
    var alignment = GGUFParser.defaultAlignment
    var metadata: [String: GGUFValue] = [:]
    var metadataKeys: [String] = []
    var arrayElementTypes: [String: GGUFValueType] = [:]
    var tensors: [GGUFTensorInfo] = []
    var tensorIndex: [String: Int] = [:]
    var dataOffset = 0
}

/// Parses and validates a GGUF header (layout: ggml `docs/gguf.md`, llama.cpp `ggml/src/gguf.cpp`)
/// from mapped bytes.
///
/// Every count, length and offset is checked against the bytes that remain *before* anything
/// is allocated for it, so a corrupt or hostile file produces a `GGUFError` rather than a
/// crash, a huge allocation or a read outside the mapping. Checks use explicit overflow-
/// reporting arithmetic because release builds use `-Ounchecked`, which removes the traps.
struct GGUFParser {
    static let magic: [UInt8] = Array("GGUF".utf8)
    static let defaultAlignment = 32
    static let alignmentKey = "general.alignment"
    /// ggml's GGML_MAX_DIMS.
    static let maxDimensions = 4
    /// Smallest possible encoding of one key/value pair: empty key (8) + type (4) + 1-byte value.
    static let minimumKVSize = 8 + 4 + 1
    /// Smallest possible tensor info: empty name (8) + n_dims (4) + type (4) + offset (8).
    static let minimumTensorInfoSize = 8 + 4 + 4 + 8

    private var cursor: GGUFCursor
    private var header = GGUFHeader()

    /// Parses the header of a mapping of `size` bytes at `base`.
    static func parse(base: UnsafeRawPointer?, size: Int, path: String) throws -> GGUFHeader {
        guard let base, size > 0 else {
            throw GGUFError(path: path, field: "magic", offset: 0, reason: "file is empty")
        }
        var parser = GGUFParser(cursor: GGUFCursor(base: base, size: size, path: path))
        try parser.parseAll()
        return parser.header
    }

    private init(cursor: GGUFCursor) {
        self.cursor = cursor
    }

    private mutating func parseAll() throws {
        try parseMagicAndVersion()

        let tensorCountOffset = cursor.position
        let tensorCount = try cursor.read(Int64.self, "n_tensors")
        let kvCountOffset = cursor.position
        let kvCount = try cursor.read(Int64.self, "n_kv")
        try checkCount(tensorCount, field: "n_tensors", at: tensorCountOffset,
                       minimumSize: Self.minimumTensorInfoSize)
        try checkCount(kvCount, field: "n_kv", at: kvCountOffset, minimumSize: Self.minimumKVSize)

        header.metadata.reserveCapacity(Int(kvCount))
        header.metadataKeys.reserveCapacity(Int(kvCount))
        for index in 0..<Int(kvCount) {
            try parseKeyValue(index: index)
        }
        header.alignment = try resolveAlignment()

        header.tensors.reserveCapacity(Int(tensorCount))
        header.tensorIndex.reserveCapacity(Int(tensorCount))
        for index in 0..<Int(tensorCount) {
            try parseTensorInfo(index: index)
        }

        guard let dataOffset = GGUFCursor.padded(cursor.position, to: header.alignment) else {
            throw cursor.error("data section", "start overflows with alignment \(header.alignment)")
        }
        header.dataOffset = dataOffset
        for tensor in header.tensors {
            try checkTensorFits(tensor)
        }
        try checkNoOverlap()
    }

    // MARK: - Preamble

    private mutating func parseMagicAndVersion() throws {
        try cursor.require(4, "magic")
        let found = (0..<4).map { cursor.base.load(fromByteOffset: $0, as: UInt8.self) }
        guard found == Self.magic else {
            let hex = found.map { String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            throw cursor.error("magic", at: 0, "not a GGUF file (expected bytes 47 47 55 46 \"GGUF\", found \(hex))")
        }
        _ = try cursor.read(UInt32.self, "magic")
        let versionOffset = cursor.position
        let version = try cursor.read(UInt32.self, "version")
        switch version {
        case 2, 3:
            // v2 and v3 share the little-endian layout (v3 only added big-endian files);
            // gguf-py reads both, so Loom does too.
            header.version = version
        case 1:
            throw cursor.error("version", at: versionOffset,
                               "unsupported version 1 (pre-2023 layout with 32-bit counts); Loom reads versions 2 and 3")
        case _ where version.byteSwapped == 2 || version.byteSwapped == 3:
            throw cursor.error("version", at: versionOffset,
                               "big-endian GGUF files are not supported (version reads as \(version.byteSwapped) byte-swapped)")
        default:
            throw cursor.error("version", at: versionOffset,
                               "unsupported version \(version); Loom reads versions 2 and 3")
        }
    }

    /// Rejects negative counts and counts whose minimal encodings cannot fit in the bytes left.
    private func checkCount(_ count: Int64, field: String, at offset: Int, minimumSize: Int) throws {
        guard count >= 0 else {
            throw cursor.error(field, at: offset, "negative count \(count)")
        }
        let limit = cursor.remaining / minimumSize
        guard count <= Int64(limit) else {
            throw cursor.error(field, at: offset,
                               "count \(count) cannot fit in the \(cursor.remaining) bytes left (at most \(limit) of at least \(minimumSize) bytes each)")
        }
    }

    // MARK: - Metadata

    private mutating func parseKeyValue(index: Int) throws {
        let keyOffset = cursor.position
        let key = try cursor.readString("key #\(index)")
        guard header.metadata[key] == nil else {
            throw cursor.error("key '\(key)'", at: keyOffset, "duplicate metadata key")
        }
        let typeOffset = cursor.position
        let rawType = try cursor.read(UInt32.self, "key '\(key)' type")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw cursor.error("key '\(key)' type", at: typeOffset, "unknown value type \(Int32(bitPattern: rawType))")
        }
        let value: GGUFValue
        if type == .array {
            value = try parseArray(key: key)
        } else {
            value = try parseScalar(type, "key '\(key)'")
        }
        header.metadata[key] = value
        header.metadataKeys.append(key)
    }

    private mutating func parseArray(key: String) throws -> GGUFValue {
        let typeOffset = cursor.position
        let rawType = try cursor.read(UInt32.self, "key '\(key)' array element type")
        guard let elementType = GGUFValueType(rawValue: rawType) else {
            throw cursor.error("key '\(key)' array element type", at: typeOffset,
                               "unknown value type \(Int32(bitPattern: rawType))")
        }
        guard elementType != .array else {
            // gguf.cpp rejects nested arrays too; refusing them keeps files Loom accepts
            // loadable by llama.cpp and bounds recursion trivially.
            throw cursor.error("key '\(key)' array element type", at: typeOffset, "nested arrays are not supported")
        }
        let countOffset = cursor.position
        let count = try cursor.read(UInt64.self, "key '\(key)' array count")
        let limit = cursor.remaining / elementType.minimumEncodedSize
        guard count <= UInt64(limit) else {
            throw cursor.error("key '\(key)' array count", at: countOffset,
                               "count \(count) of \(elementType) cannot fit in the \(cursor.remaining) bytes left")
        }
        header.arrayElementTypes[key] = elementType
        var values = [GGUFValue]()
        values.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            values.append(try parseScalar(elementType, "key '\(key)' [\(index)]"))
        }
        return .array(values)
    }

    @inline(__always)
    private mutating func parseScalar(_ type: GGUFValueType, _ field: @autoclosure () -> String) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, field()))
        case .int8: return .int8(try cursor.read(Int8.self, field()))
        case .uint16: return .uint16(try cursor.read(UInt16.self, field()))
        case .int16: return .int16(try cursor.read(Int16.self, field()))
        case .uint32: return .uint32(try cursor.read(UInt32.self, field()))
        case .int32: return .int32(try cursor.read(Int32.self, field()))
        case .uint64: return .uint64(try cursor.read(UInt64.self, field()))
        case .int64: return .int64(try cursor.read(Int64.self, field()))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, field())))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, field())))
        case .bool:
            let offset = cursor.position
            let byte = try cursor.read(UInt8.self, field())
            guard byte <= 1 else {
                throw cursor.error(field(), at: offset, "bool byte is \(byte), expected 0 or 1")
            }
            return .bool(byte == 1)
        case .string: return .string(try cursor.readString(field()))
        case .array:
            // Callers dispatch arrays before getting here; an array element type of ARRAY
            // was already rejected.
            throw cursor.error(field(), "nested arrays are not supported")
        }
    }

    /// `general.alignment` if present (a non-zero power-of-two integer), else 32.
    private func resolveAlignment() throws -> Int {
        guard let value = header.metadata[Self.alignmentKey] else { return Self.defaultAlignment }
        let field = Self.alignmentKey
        guard value.type != .bool, value.type != .array, let alignment = value.intValue else {
            throw GGUFError(path: cursor.path, field: field, offset: nil,
                            reason: "must be an unsigned integer (found \(value.type) \(value))")
        }
        // 1 GiB is far above any real alignment and keeps padding arithmetic trivially safe.
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 30 else {
            throw GGUFError(path: cursor.path, field: field, offset: nil,
                            reason: "alignment \(alignment) is not a non-zero power of two (at most 2^30)")
        }
        return alignment
    }

    // MARK: - Tensor infos

    private mutating func parseTensorInfo(index: Int) throws {
        let infoOffset = cursor.position
        let name = try cursor.readString("tensor #\(index) name")
        let field = "tensor '\(name)'"
        guard header.tensorIndex[name] == nil else {
            throw cursor.error(field, at: infoOffset, "duplicate tensor name")
        }

        let dimsOffset = cursor.position
        let dimCount = try cursor.read(UInt32.self, "\(field) n_dims")
        guard dimCount <= UInt32(Self.maxDimensions) else {
            throw cursor.error("\(field) n_dims", at: dimsOffset,
                               "n_dims is \(dimCount), at most \(Self.maxDimensions) are supported")
        }
        var dimensions = [Int]()
        dimensions.reserveCapacity(Int(dimCount))
        var elementCount = 1
        for axis in 0..<Int(dimCount) {
            let neOffset = cursor.position
            let ne = try cursor.read(Int64.self, "\(field) ne[\(axis)]")
            guard ne > 0 else {
                throw cursor.error("\(field) ne[\(axis)]", at: neOffset, "dimension \(ne) is not positive")
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: Int(ne))
            guard !overflow else {
                throw cursor.error("\(field) ne[\(axis)]", at: neOffset, "element count overflows 64 bits")
            }
            elementCount = product
            dimensions.append(Int(ne))
        }

        let typeOffset = cursor.position
        let rawType = try cursor.read(UInt32.self, "\(field) type")
        guard let type = GGMLType(rawValue: rawType) else {
            throw cursor.error("\(field) type", at: typeOffset,
                               "unknown or unsupported ggml type id \(Int32(bitPattern: rawType))")
        }
        let rowLength = dimensions.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw cursor.error("\(field) ne[0]", at: dimsOffset + 4,
                               "row length \(rowLength) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        // Checked once here so that GGUFTensorInfo.byteCount can compute it unchecked later.
        guard !(elementCount / type.blockSize).multipliedReportingOverflow(by: type.blockBytes).overflow else {
            throw cursor.error(field, at: infoOffset, "data size overflows 64 bits")
        }

        let offsetOffset = cursor.position
        let offset = try cursor.read(UInt64.self, "\(field) offset")
        guard offset <= UInt64(Int.max) else {
            throw cursor.error("\(field) offset", at: offsetOffset, "offset \(offset) is out of range")
        }
        guard Int(offset) & (header.alignment - 1) == 0 else {
            throw cursor.error("\(field) offset", at: offsetOffset,
                               "offset \(offset) is not a multiple of the alignment \(header.alignment)")
        }
        header.tensorIndex[name] = header.tensors.count
        header.tensors.append(GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: Int(offset)))
    }

    /// Two tensors sharing bytes would alias each other's weights: a corrupt (or crafted) file,
    /// never one a writer produces. gguf.cpp goes further and requires tensors in offset order
    /// with only alignment padding between them; Loom accepts any order but no shared bytes.
    /// Zero-byte tensors cannot exist here (every dimension is positive).
    private func checkNoOverlap() throws {
        let ordered = header.tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.offset < a.offset + a.byteCount {
            throw GGUFError(path: cursor.path, field: "tensor '\(b.name)' offset", offset: nil,
                            reason: "data at [\(b.offset), \(b.offset + b.byteCount)) overlaps tensor '\(a.name)' at [\(a.offset), \(a.offset + a.byteCount)) (offsets within the data section)")
        }
    }

    /// Checks that the tensor's data lies entirely inside the file.
    private func checkTensorFits(_ tensor: GGUFTensorInfo) throws {
        let size = cursor.size
        let (start, overflowStart) = header.dataOffset.addingReportingOverflow(tensor.offset)
        let (end, overflowEnd) = start.addingReportingOverflow(tensor.byteCount)
        guard !overflowStart, !overflowEnd, end <= size else {
            throw cursor.error("tensor '\(tensor.name)'", at: overflowStart ? header.dataOffset : start,
                               "data runs past end of file (needs \(tensor.byteCount) bytes at data offset \(tensor.offset), up to byte \(overflowStart || overflowEnd ? "beyond 2^63" : String(end)); file has \(size))")
        }
    }
}
