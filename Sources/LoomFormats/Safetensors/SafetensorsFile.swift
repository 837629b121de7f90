import Foundation
import LoomKernels

/// A memory-mapped safetensors file: the validated header and zero-copy access to each
/// tensor's bytes.
///
/// The header is checked completely on open (see ``SafetensorsError``), so any tensor listed
/// can be read without further bounds checks. Data is not copied: ``data(_:)`` points into the
/// mapping, which lives as long as this object. Immutable, hence `Sendable`.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// let info = file.tensor(named: "model.norm.weight")!
/// let weights = try file.floats(info)          // F32/F16/BF16/… widened to Float
/// ```
public final class SafetensorsFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// All tensors, sorted by name.
    public let tensors: [SafetensorsTensorInfo]
    /// The `__metadata__` string map (empty if absent).
    public let metadata: [String: String]
    /// Offset of the data section from the start of the file.
    public let dataStart: Int

    private let mapping: MappedFile
    private let index: [String: Int]

    /// Opens, maps and validates `path`.
    /// - Throws: ``SafetensorsError`` for a malformed header, `MappedFileError` if the file
    ///   cannot be opened.
    public init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let header = try SafetensorsHeaderParser.parse(mapping.bytes, path: path)
        tensors = header.tensors
        metadata = header.metadata
        dataStart = header.dataStart
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> SafetensorsTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The raw little-endian bytes of `info` (which must come from this file), inside the mapping.
    public func data(_ info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[(dataStart + info.dataOffsets.lowerBound)..<(dataStart + info.dataOffsets.upperBound)])
    }

    /// The elements of `info` converted to `Float` (exact for F16, BF16, I8, U8, I16, U16;
    /// rounded for F64 and the wide integer types; BOOL as 0/1).
    public func floats(_ info: SafetensorsTensorInfo) throws -> [Float] {
        guard let i = index[info.name], tensors[i] == info else {
            throw SafetensorsError(path: path, tensor: info.name, reason: "not a tensor of this file")
        }
        return Self.floats(data(info), dtype: info.dtype, count: info.elementCount)
    }

    /// Converts `count` little-endian elements of `dtype` at `bytes` to `Float`.
    public static func floats(_ bytes: UnsafeRawBufferPointer, dtype: SafetensorsDType, count: Int) -> [Float] {
        precondition(bytes.count >= count * dtype.byteSize, "floats: buffer too small")
        guard count > 0 else { return [] }
        let p = bytes.baseAddress!
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            let o = out.baseAddress!
            switch dtype {
            case .f32, .f16, .bf16:
                RowKernels.dequantize(dtype.ggmlType!, p, into: o, count: count)
            case .f64: for i in 0..<count { o[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            case .i64: for i in 0..<count { o[i] = Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .u64: for i in 0..<count { o[i] = Float(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
            case .i32: for i in 0..<count { o[i] = Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .u32: for i in 0..<count { o[i] = Float(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .i16: for i in 0..<count { o[i] = Float(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .u16: for i in 0..<count { o[i] = Float(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .i8: for i in 0..<count { o[i] = Float(p.load(fromByteOffset: i, as: Int8.self)) }
            case .u8: for i in 0..<count { o[i] = Float(p.load(fromByteOffset: i, as: UInt8.self)) }
            case .bool: for i in 0..<count { o[i] = p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
            }
            initialized = count
        }
    }
}
