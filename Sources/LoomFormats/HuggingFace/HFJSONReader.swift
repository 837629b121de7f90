import Foundation

/// Typed, validating access to one JSON object of a Hugging Face config file; every failure
/// is an ``HFConfigError`` naming the (prefixed) key.
struct HFJSONReader {
    let object: [String: Any]
    let path: String
    var prefix = ""

    /// Parses a JSON file of at most `maxBytes`, nesting checked, whose top level is an object.
    static func load(data: Data, path: String, maxBytes: Int = 16 << 20) throws -> [String: Any] {
        guard data.count <= maxBytes else { throw HFConfigError(path: path, field: nil, reason: "file of \(data.count) bytes is too large") }
        do {
            try data.withUnsafeBytes { try SafetensorsHeaderParser.checkNesting($0, path: path) }
        } catch let e as SafetensorsError {
            throw HFConfigError(path: path, field: nil, reason: e.reason)
        }
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw HFConfigError(path: path, field: nil, reason: "invalid JSON: \(error.localizedDescription)")
        }
        guard let object = any as? [String: Any] else { throw HFConfigError(path: path, field: nil, reason: "JSON is not an object") }
        return object
    }

    func fail(_ key: String, _ reason: String) -> HFConfigError {
        HFConfigError(path: path, field: prefix + key, reason: reason)
    }

    func present(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    func string(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v as? String else { throw fail(key, "is not a string") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = present(key) else { return nil }
        guard let b = v as? Bool else { throw fail(key, "is not a boolean") }
        return b
    }

    func double(_ key: String, required: Bool = false) throws -> Double? {
        guard let v = present(key) else {
            if required { throw fail(key, "is missing") }
            return nil
        }
        guard !(v is String), let n = v as? NSNumber, n.doubleValue.isFinite else { throw fail(key, "is not a finite number") }
        return n.doubleValue
    }

    func positiveDouble(_ key: String, required: Bool = false) throws -> Double? {
        guard let d = try double(key, required: required) else { return nil }
        guard d > 0 else { throw fail(key, "\(d) is not positive") }
        return d
    }

    func int(_ key: String, required: Bool = false) throws -> Int? {
        guard let d = try double(key, required: required) else { return nil }
        guard d.rounded() == d, abs(d) < 9.0e15 else { throw fail(key, "\(d) is not an integer") }
        return Int(d)
    }

    func positiveInt(_ key: String, required: Bool = false) throws -> Int? {
        guard let i = try int(key, required: required) else { return nil }
        guard i > 0 else { throw fail(key, "\(i) is not positive") }
        return i
    }

    /// An integer or a list of integers (HF writes `eos_token_id` either way).
    func ints(_ key: String) throws -> [Int]? {
        guard let v = present(key) else { return nil }
        if let list = v as? [Any] {
            return try list.enumerated().map { i, e in
                guard !(e is String), let n = e as? NSNumber, n.doubleValue.rounded() == n.doubleValue, n.doubleValue >= 0, n.doubleValue < 9e15
                else { throw fail("\(key)[\(i)]", "is not a non-negative integer") }
                return n.intValue
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
        guard let list = v as? [Any] else { throw fail(key, "is not an array") }
        return try list.enumerated().map { i, e in
            guard !(e is String), let n = e as? NSNumber, n.doubleValue.isFinite else { throw fail("\(key)[\(i)]", "is not a finite number") }
            return n.doubleValue
        }
    }

    func objectValue(_ key: String) throws -> [String: Any]? {
        guard let v = present(key) else { return nil }
        guard let o = v as? [String: Any] else { throw fail(key, "is not an object") }
        return o
    }
}
