/// Little-endian encoding of GGUF header fields.
struct GGUFEncoder {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func appendString(_ string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// Appends `value` with its type tag.
    mutating func appendValue(_ value: GGUFValue, key: String, emptyArrayType: GGUFValueType) throws {
        append(value.type.rawValue)
        guard case .array(let elements) = value else {
            appendPayload(value)
            return
        }
        let elementType = elements.first?.type ?? emptyArrayType
        guard elementType != .array else {
            throw GGUFError(path: GGUFWriter.errorPath, field: "key '\(key)'", offset: nil,
                            reason: "nested arrays are not supported")
        }
        for (index, element) in elements.enumerated() where element.type != elementType {
            throw GGUFError(path: GGUFWriter.errorPath, field: "key '\(key)' [\(index)]", offset: nil,
                            reason: "array mixes \(elementType) and \(element.type) elements")
        }
        append(elementType.rawValue)
        append(UInt64(elements.count))
        for element in elements { appendPayload(element) }
    }

    /// Appends a non-array value without its type tag.
    mutating func appendPayload(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .float64(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): appendString(v)
        case .array: break  // rejected by appendValue before any payload is written
        }
    }
}
