import Foundation
import LoomKernels

/// Writes a safetensors file atomically (temporary file in the same directory, fsync, rename).
///
/// The layout is what Python's `safetensors` writes: an 8-byte little-endian header length,
/// the JSON header padded with spaces to a multiple of 8 bytes, then the tensors' data back
/// to back in the order added.
///
/// ```swift
/// var writer = SafetensorsWriter()
/// writer.metadata["format"] = "pt"
/// try writer.addTensor(name: "model.norm.weight", dtype: .f32, shape: [576], data: bytes)
/// try writer.write(to: "out/model.safetensors")
/// ```
public struct SafetensorsWriter {
    /// The `__metadata__` map (omitted from the header when empty).
    public var metadata: [String: String] = [:]

    private var infos: [SafetensorsTensorInfo] = []
    private var datas: [[UInt8]] = []
    private var names: Set<String> = []
    private var nextOffset = 0

    public init() {}

    /// Tensors added so far, in order.
    public var tensors: [SafetensorsTensorInfo] { infos }

    /// Adds a tensor whose raw little-endian bytes are `data`.
    /// - Throws: ``SafetensorsError`` for a duplicate or reserved name, a negative dimension
    ///   or a byte count that does not match shape × dtype size.
    public mutating func addTensor(name: String, dtype: SafetensorsDType, shape: [Int], data: [UInt8]) throws {
        func fail(_ field: String?, _ reason: String) -> SafetensorsError {
            SafetensorsError(path: "SafetensorsWriter", tensor: name, field: field, reason: reason)
        }
        guard name != "__metadata__", !name.isEmpty else { throw fail(nil, "reserved or empty name") }
        guard !names.contains(name) else { throw fail(nil, "duplicate tensor name") }
        var elements = 1
        for n in shape {
            guard n >= 0 else { throw fail("shape", "\(shape) has a negative dimension") }
            let (p, o) = elements.multipliedReportingOverflow(by: n)
            guard !o else { throw fail("shape", "\(shape) has too many elements") }
            elements = p
        }
        guard elements * dtype.byteSize == data.count else {
            throw fail("data_offsets", "\(data.count) bytes given, but \(dtype) \(shape) needs \(elements * dtype.byteSize)")
        }
        infos.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: nextOffset..<(nextOffset + data.count)))
        datas.append(data)
        names.insert(name)
        nextOffset += data.count
    }

    /// Adds `values` as an F32, F16 or BF16 tensor (rounded to nearest even for the 16-bit types).
    public mutating func addTensor(name: String, dtype: SafetensorsDType, shape: [Int], floats values: [Float]) throws {
        guard let type = dtype.ggmlType else {
            throw SafetensorsError(path: "SafetensorsWriter", tensor: name, field: "dtype", reason: "\(dtype) is not a float type")
        }
        try addTensor(name: name, dtype: dtype, shape: shape, data: values.isEmpty ? [] : RowQuantizer.quantize(type, values))
    }

    /// The header bytes: length, JSON, space padding.
    func encodeHeader() -> [UInt8] {
        var json = "{"
        var first = true
        func append(_ s: String) { if !first { json += "," }; first = false; json += s }
        if !metadata.isEmpty {
            let entries = metadata.keys.sorted().map { "\(Self.quote($0)):\(Self.quote(metadata[$0]!))" }
            append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        for t in infos {
            append("\(Self.quote(t.name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(t.dataOffsets.lowerBound),\(t.dataOffsets.upperBound)]}")
        }
        json += "}"
        var body = Array(json.utf8)
        while body.count % 8 != 0 { body.append(UInt8(ascii: " ")) }
        var out = withUnsafeBytes(of: UInt64(body.count).littleEndian) { Array($0) }
        out += body
        return out
    }

    /// Writes the file atomically to `path`.
    public func write(to path: String) throws {
        let header = encodeHeader()
        do {
            try GGUFFileSink.writeAtomically(to: path) { sink in
                try sink.write(header)
                for d in datas { try sink.write(d) }
            }
        } catch let error as GGUFError {
            throw SafetensorsError(path: path, field: "file", reason: error.reason)
        }
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

