import Foundation
import LoomJinja

/// A JSON request object with typed field access: every getter returns nil for a missing or
/// `null` field and throws a 400 ``APIError`` naming the field when its type is wrong.
/// Unknown fields are ignored (clients send many optional OpenAI fields).
struct JSONFields {
    let object: [String: Any]
    /// Prefix for nested fields in messages (e.g. `stream_options.`).
    let path: String
    /// The same object as parsed by Loom's parser, which keeps key order (a JSON schema's
    /// `properties` order decides the order of generated keys); nil when built from `object`.
    let ordered: JSONObject?

    init(object: [String: Any], path: String = "", ordered: JSONObject? = nil) {
        self.object = object
        self.path = path
        self.ordered = ordered
    }

    /// Parses a request body; malformed JSON or a non-object is a 400 saying where.
    ///
    /// The body is first checked by Loom's strict RFC 8259 parser, which bounds nesting depth
    /// and names the line and column of an error: Foundation's `JSONSerialization` accepts
    /// some invalid JSON (a trailing comma, `{"prompt": "x",}`) that must be refused.
    init(body: Data) throws {
        guard !body.isEmpty else { throw APIError(.badRequest, "the request body is empty; expected a JSON object", code: "invalid_json") }
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse([UInt8](body))
        } catch {
            throw APIError(.badRequest, "the request body is not valid JSON: \(error)", code: "invalid_json")
        }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: body, options: [])
        } catch {
            let detail = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            throw APIError(.badRequest, "the request body is not valid JSON: \(detail)", code: "invalid_json")
        }
        guard let object = root as? [String: Any] else {
            throw APIError(.badRequest, "the request body must be a JSON object", code: "invalid_json")
        }
        guard case .object(let ordered) = parsed else {
            throw APIError(.badRequest, "the request body must be a JSON object", code: "invalid_json")
        }
        self.init(object: object, ordered: ordered)
    }

    /// The field as an order-keeping ``JSONValue`` (converted from Foundation's value, keys
    /// sorted, when the ordered parse is not at hand); nil when missing or `null`.
    func value(_ key: String) -> JSONValue? {
        guard raw(key) != nil else { return nil }
        if let ordered, let value = ordered[key] { return value }
        return Self.jsonValue(object[key]!)
    }

    /// Foundation's JSON value as a ``JSONValue`` (object keys sorted for determinism).
    static func jsonValue(_ value: Any) -> JSONValue {
        if value is NSNull { return .null }
        if isBool(value), let b = value as? Bool { return .bool(b) }
        if let i = integer(value) { return .integer(i) }
        if let d = number(value) { return .number(d) }
        if let s = value as? String { return .string(s) }
        if let a = value as? [Any] { return .array(a.map(jsonValue)) }
        if let o = value as? [String: Any] {
            var members = JSONObject()
            for key in o.keys.sorted() { members[key] = jsonValue(o[key]!) }
            return .object(members)
        }
        return .null
    }

    func name(_ key: String) -> String { path + key }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    func raw(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    static func isBool(_ value: Any) -> Bool {
        guard let n = value as? NSNumber else { return false }
        let type = String(cString: n.objCType)
        return type == "c" || type == "B" || String(describing: Swift.type(of: value)).contains("Boolean")
    }

    static func integer(_ value: Any) -> Int? {
        guard !isBool(value), let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return n.intValue
    }

    static func number(_ value: Any) -> Double? {
        guard !isBool(value), let n = value as? NSNumber else { return nil }
        return n.doubleValue
    }

    func string(_ key: String) throws -> String? {
        guard let v = raw(key) else { return nil }
        guard let s = v as? String else { throw APIError.invalid(name(key), "expected a string, got \(Self.describe(v))") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = raw(key) else { return nil }
        guard Self.isBool(v), let b = v as? Bool else { throw APIError.invalid(name(key), "expected true or false, got \(Self.describe(v))") }
        return b
    }

    func int(_ key: String) throws -> Int? {
        guard let v = raw(key) else { return nil }
        guard let i = Self.integer(v) else { throw APIError.invalid(name(key), "expected an integer, got \(Self.describe(v))") }
        return i
    }

    func double(_ key: String) throws -> Double? {
        guard let v = raw(key) else { return nil }
        guard let d = Self.number(v), d.isFinite else { throw APIError.invalid(name(key), "expected a number, got \(Self.describe(v))") }
        return d
    }

    func object(_ key: String) throws -> JSONFields? {
        guard let v = raw(key) else { return nil }
        guard let o = v as? [String: Any] else { throw APIError.invalid(name(key), "expected an object, got \(Self.describe(v))") }
        var child: JSONObject?
        if case .object(let members)? = ordered?[key] { child = members }
        return JSONFields(object: o, path: name(key) + ".", ordered: child)
    }

    /// A string or an array of strings (`stop`).
    func strings(_ key: String) throws -> [String]? {
        guard let v = raw(key) else { return nil }
        if let s = v as? String { return [s] }
        if let a = v as? [Any] {
            return try a.enumerated().map { i, item in
                guard let s = item as? String else { throw APIError.invalid("\(name(key))[\(i)]", "expected a string, got \(Self.describe(item))") }
                return s
            }
        }
        throw APIError.invalid(name(key), "expected a string or an array of strings, got \(Self.describe(v))")
    }

    /// Throws a 400 naming the first field (alphabetically) that is neither in `known` nor
    /// in ``ignoredFields``: an option the server does not implement must not be dropped
    /// silently, since the answer would then follow rules the client did not ask for.
    func refuseUnknown(_ known: Set<String>, endpoint: String) throws {
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) && !Self.ignoredFields.contains($0) }) {
            throw APIError.invalid(path + unknown, "is not supported by \(endpoint)")
        }
    }

    /// Fields accepted everywhere and ignored, because they cannot change an answer: OpenAI's
    /// `user` (an abuse-tracking tag), `metadata` and `store` (what OpenAI keeps of a request)
    /// and `service_tier` (its billing queue).
    static let ignoredFields: Set<String> = ["user", "metadata", "store", "service_tier"]

    /// A short name of a JSON value's type for error messages.
    static func describe(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if isBool(value) { return "a boolean" }
        if value is NSNumber { return "a number" }
        if value is String { return "a string" }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "\(type(of: value))"
    }
}
