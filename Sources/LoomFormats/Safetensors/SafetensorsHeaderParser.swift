import Foundation
import LoomJinja

/// Parses and validates the JSON header of a safetensors file, treating every byte as hostile:
/// the length is bounded, nesting depth is checked before the JSON parser sees the text, the
/// JSON is read by Loom's one strict parser (LoomJinja's `JSONParser`, whose errors name the
/// line, column and byte of the fault), and each tensor entry must have a known dtype, a
/// non-negative shape and data offsets that lie inside the data section, match shape × dtype
/// size exactly and do not overlap another tensor.
enum SafetensorsHeaderParser {
    /// Largest header accepted (the reference implementation's limit too).
    static let maxHeaderLength = 100_000_000
    /// Deepest JSON nesting accepted; a valid header needs 3.
    static let maxDepth = 16

    struct Header {
        var tensors: [SafetensorsTensorInfo]
        var metadata: [String: String]
        /// Offset of the data section from the start of the file.
        var dataStart: Int
    }

    /// Parses the header of a file of `fileSize` bytes whose first bytes are `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        func fail(_ field: String, _ reason: String) -> SafetensorsError {
            SafetensorsError(path: path, field: field, reason: reason)
        }
        guard bytes.count >= 8 else {
            throw fail("header length", "file has \(bytes.count) bytes, too short for the 8-byte header length")
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(maxHeaderLength) else {
            throw fail("header length", "\(declared) bytes exceeds the limit of \(maxHeaderLength)")
        }
        let length = Int(declared)
        guard length <= bytes.count - 8 else {
            throw fail("header length", "\(length) bytes but the file has only \(bytes.count - 8) after the length")
        }
        guard length >= 2 else { throw fail("header", "header of \(length) bytes cannot be a JSON object") }
        let json = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + length)])
        try checkNesting(json, path: path)
        let object: JSONValue
        do {
            object = try JSONParser.parse(Array(json))
        } catch let error as JSONSyntaxError {
            // The header starts after the 8-byte length, so a file offset is 8 past the JSON's.
            throw fail("header", "invalid JSON at line \(error.line), column \(error.column) (file byte \(8 + error.offset)): \(error.message)")
        }
        guard case .object(let top) = object else { throw fail("header", "JSON is not an object") }

        let dataSize = bytes.count - 8 - length
        var tensors: [SafetensorsTensorInfo] = []
        var metadata: [String: String] = [:]
        for (name, value) in top {
            if name == "__metadata__" {
                guard case .object(let dict) = value else { throw fail("__metadata__", "is not an object") }
                for (k, v) in dict {
                    guard case .string(let s) = v else { throw fail("__metadata__", "value of '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            tensors.append(try parseTensor(name, value, dataSize: dataSize, path: path))
        }
        // Like the reference reader (safetensors `validate`: InvalidOffset,
        // MetadataIncompleteBuffer), the tensors, in offset order, must tile the data section
        // from byte 0 to its last byte with no overlap and no gap. A header length a few bytes
        // short still parses when the JSON ends in padding spaces; without the tiling check
        // every tensor would then be read shifted, silently.
        let ordered = tensors.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        var covered = 0, previous: SafetensorsTensorInfo?
        for b in ordered {
            let range = "[\(b.dataOffsets.lowerBound), \(b.dataOffsets.upperBound)]"
            if b.dataOffsets.lowerBound < covered, let a = previous {
                throw SafetensorsError(path: path, tensor: b.name, field: "data_offsets",
                                       reason: "\(range) overlaps tensor '\(a.name)' at [\(a.dataOffsets.lowerBound), \(a.dataOffsets.upperBound)]")
            }
            if b.dataOffsets.lowerBound > covered {
                throw SafetensorsError(path: path, tensor: b.name, field: "data_offsets",
                                       reason: "\(range) leaves bytes \(covered)..<\(b.dataOffsets.lowerBound) of the data section unused; tensors must be contiguous")
            }
            covered = b.dataOffsets.upperBound
            previous = b
        }
        guard covered == dataSize else {
            throw fail("header length", "the tensors end at data byte \(covered) but the data section after the \(length)-byte header has \(dataSize) bytes; the header length or data_offsets are wrong, or the file is truncated or has trailing bytes")
        }
        tensors.sort { $0.name < $1.name }
        return Header(tensors: tensors, metadata: metadata, dataStart: 8 + length)
    }

    static func parseTensor(_ name: String, _ value: JSONValue, dataSize: Int, path: String) throws -> SafetensorsTensorInfo {
        func fail(_ field: String?, _ reason: String) -> SafetensorsError {
            SafetensorsError(path: path, tensor: name, field: field, reason: reason)
        }
        guard case .object(let entry) = value else { throw fail(nil, "entry is not an object") }
        guard case .string(let dtypeName)? = entry["dtype"] else { throw fail("dtype", "missing or not a string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw fail("dtype", "unknown dtype '\(dtypeName)' (known: \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case .array(let shapeValues)? = entry["shape"] else { throw fail("shape", "missing or not an array") }
        var shape: [Int] = []
        var elements = 1
        for (axis, v) in shapeValues.enumerated() {
            guard let n = integer(v), n >= 0 else { throw fail("shape", "dimension \(axis) is not a non-negative integer") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("shape", "dimensions 0...\(axis) (\(shape + [n])) have too many elements") }
            shape.append(n)
            elements = product
        }
        guard case .array(let offsets)? = entry["data_offsets"], offsets.count == 2,
              let begin = integer(offsets[0]), let end = integer(offsets[1]) else {
            throw fail("data_offsets", "missing or not an array of two integers")
        }
        guard begin >= 0, begin <= end else { throw fail("data_offsets", "[\(begin), \(end)] is not an increasing range") }
        guard end <= dataSize else {
            throw fail("data_offsets", "[\(begin), \(end)] ends past the data section of \(dataSize) bytes")
        }
        let (needed, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, needed == end - begin else {
            throw fail("data_offsets", "[\(begin), \(end)] has \(end - begin) bytes, but \(dtype) \(shape) needs \(overflow ? "more than 2^63" : String(needed))")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// An exact integer from a JSON number (not fractional, within `Int`).
    static func integer(_ v: JSONValue) -> Int? {
        switch v {
        case .integer(let i): return i
        case .number(let d) where d.rounded() == d && abs(d) < 9.0e18: return Int(d)
        default: return nil
        }
    }

    /// Rejects JSON nested deeper than `maxDepth` before handing it to a recursive parser,
    /// and text that is not UTF-8 framed as an object.
    static func checkNesting(_ json: UnsafeRawBufferPointer, path: String) throws {
        var depth = 0, inString = false, escaped = false
        for (offset, byte) in json.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > maxDepth {
                    throw SafetensorsError(path: path, field: "header", reason: "JSON nested deeper than \(maxDepth) levels at byte \(8 + offset)")
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
    }
}
