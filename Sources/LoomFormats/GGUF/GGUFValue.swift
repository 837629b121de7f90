/// The on-disk type tag of a GGUF metadata value (`gguf_type` in gguf.h).
public enum GGUFValueType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes one value of this type takes at least: its exact size for fixed-size types, the
    /// length prefix for a string, and element type + count for an array. Used to reject
    /// counts that could not possibly fit in the remaining bytes before allocating anything.
    public var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string: return 8
        case .array: return 12
        }
    }

    /// The name gguf-py uses (`UINT32`, `STRING`, …).
    public var description: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }
}

/// One GGUF metadata value.
///
/// Arrays hold values of a single element type; the element type of an *empty* array cannot
/// be recovered from the values, so `GGUFFile.arrayElementType(forKey:)` reports the type
/// recorded in the file and `GGUFWriter.setMetadata(_:emptyArrayOf:)` writes one.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    indirect case array([GGUFValue])

    /// The on-disk type tag of this value.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// Any integer case (and `bool`, as 0/1) as an `Int`; `nil` for other cases and for a
    /// `uint64` too large for `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// Float cases, and integer cases converted to `Double`.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        case .bool: return nil
        default: return intValue.map(Double.init)
        }
    }

    /// The `bool` case only.
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The `string` case only.
    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The `array` case only.
    public var arrayValue: [GGUFValue]? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// The array's elements as strings; `nil` unless this is an array of strings only.
    public var stringArray: [String]? {
        guard case .array(let values) = self else { return nil }
        var out = [String]()
        out.reserveCapacity(values.count)
        for value in values {
            guard case .string(let s) = value else { return nil }
            out.append(s)
        }
        return out
    }

    /// The array's elements as `Int`s; `nil` unless every element has an `intValue`.
    public var intArray: [Int]? {
        guard case .array(let values) = self else { return nil }
        var out = [Int]()
        out.reserveCapacity(values.count)
        for value in values {
            guard let i = value.intValue else { return nil }
            out.append(i)
        }
        return out
    }
}
