import Foundation
import LoomJinja

/// Typed, validating access to one JSON object of a Hugging Face config file; every failure
/// is an ``HFConfigError`` naming the (prefixed) key.
///
/// The bytes are parsed by LoomJinja's `JSONParser`, the one JSON parser Loom has (the
/// tokenizer reads the same files with it), so a syntax error names its line and column.
/// JSON types are kept apart: `true` is not a number and `1` is not a boolean; a whole number
/// written with a fraction or exponent (`4.0`, `4e0`) is an integer; `null` reads as absent,
/// as transformers treats it.
struct HFJSONReader {
    let object: JSONObject
    let path: String
    var prefix = ""

    /// Integers beyond this magnitude are refused: no config field is that large, and Double
    /// (the type whole numbers written as `4.0` arrive in) is exact only up to 2^53.
    static let integerLimit = 9_000_000_000_000_000

    /// Parses a JSON file of at most `maxBytes` whose top level is an object.
    static func load(data: Data, path: String, maxBytes: Int = 16 << 20) throws -> JSONObject {
        guard data.count <= maxBytes else { throw HFConfigError(path: path, field: nil, reason: "file of \(data.count) bytes is too large") }
        let value: JSONValue
        do { value = try JSONParser.parse([UInt8](data)) } catch let e as JSONSyntaxError {
            throw HFConfigError(path: path, field: nil, reason: "invalid JSON at line \(e.line), column \(e.column) (byte \(e.offset)): \(e.message)")
        }
        guard case .object(let object) = value else {
            throw HFConfigError(path: path, field: nil, reason: "JSON is not an object but \(value.kindDescription)")
        }
        return object
    }

    /// A whole number, however written (`4`, `4.0`, `4e0`), within ±``integerLimit``; nil
    /// for anything else, booleans included.
    static func exactInteger(_ value: JSONValue) -> Int? {
        switch value {
        case .integer(let i) where abs(i) < integerLimit: return i
        case .number(let d) where d.rounded() == d && abs(d) < Double(integerLimit): return Int(d)
        default: return nil
        }
    }

    /// A number as a Double; nil for anything else, booleans and numeric strings included.
    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .integer(let i): return Double(i)
        case .number(let d): return d  // the parser only produces finite numbers
        default: return nil
        }
    }

    func fail(_ key: String, _ reason: String) -> HFConfigError {
        HFConfigError(path: path, field: prefix + key, reason: reason)
    }

    /// The value of `key`, nil when it is absent or null.
    func present(_ key: String) -> JSONValue? {
        guard let v = object[key] else { return nil }
        if case .null = v { return nil }
        return v
    }

    func string(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard case .string(let s) = v else { throw fail(key, "is not a string") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard case .bool(let b) = v else { throw fail(key, "is not a boolean") }
        return b
    }

    func double(_ key: String, required: Bool = false) throws -> Double? {
        guard let v = present(key) else {
            if required { throw fail(key, "is missing") }
            return nil
        }
        guard let d = Self.number(v) else { throw fail(key, "is not a finite number") }
        return d
    }

    func positiveDouble(_ key: String, required: Bool = false) throws -> Double? {
        guard let d = try double(key, required: required) else { return nil }
        guard d > 0 else { throw fail(key, "\(d) is not positive") }
        return d
    }

    func int(_ key: String, required: Bool = false) throws -> Int? {
        guard let v = present(key) else {
            if required { throw fail(key, "is missing") }
            return nil
        }
        guard let d = Self.number(v) else { throw fail(key, "is not a finite number") }
        guard let i = Self.exactInteger(v) else {
            if case .integer(let big) = v { throw fail(key, "\(big) is out of range") }
            throw fail(key, "\(d) is not an integer")
        }
        return i
    }

    /// Sizes above this are implausible for any model (the same bound a GGUF file's sizes get)
    /// and, refused here, keep every product of sizes far from 64-bit overflow.
    static let sizeLimit = 1 << 28

    /// A positive size below ``sizeLimit``.
    func positiveInt(_ key: String, required: Bool = false) throws -> Int? {
        guard let i = try int(key, required: required) else { return nil }
        guard i > 0 else { throw fail(key, "\(i) is not positive") }
        guard i < Self.sizeLimit else { throw fail(key, "\(i) is implausibly large (sizes must be below 2^28)") }
        return i
    }

    /// An integer or a list of integers (HF writes `eos_token_id` either way).
    func ints(_ key: String) throws -> [Int]? {
        guard let v = present(key) else { return nil }
        if case .array(let list) = v {
            return try list.enumerated().map { i, e in
                guard let n = Self.exactInteger(e), n >= 0 else { throw fail("\(key)[\(i)]", "is not a non-negative integer") }
                return n
            }
        }
        guard let i = try int(key), i >= 0 else { throw fail(key, "is negative") }
        return [i]
    }

    func doubles(_ key: String, required: Bool = false) throws -> [Double]? {
        guard let v = present(key) else {
            if required { throw fail(key, "is missing") }
            return nil
        }
        guard case .array(let list) = v else { throw fail(key, "is not an array") }
        return try list.enumerated().map { i, e in
            guard let d = Self.number(e) else { throw fail("\(key)[\(i)]", "is not a finite number") }
            return d
        }
    }

    func array(_ key: String) throws -> [JSONValue]? {
        guard let v = present(key) else { return nil }
        guard case .array(let list) = v else { throw fail(key, "is not an array") }
        return list
    }

    func objectValue(_ key: String) throws -> JSONObject? {
        guard let v = present(key) else { return nil }
        guard case .object(let o) = v else { throw fail(key, "is not an object") }
        return o
    }
}
