import Foundation

/// A JSON-like value passed into a chat template: messages, tools and extra variables.
///
/// Objects keep their key order (Python dicts do, and `tojson` output depends on it), so build
/// them from JSON text with `init(jsonData:)` / `init(jsonString:)` rather than from
/// `[String: Any]` when order matters.
public enum JinjaValue: Sendable, Equatable {
    /// Python `None` (JSON `null`).
    case null
    /// A Python `bool`.
    case bool(Bool)
    /// A Python `int`.
    case int(Int)
    /// A Python `float`.
    case double(Double)
    /// A Python `str`.
    case string(String)
    /// A Python `list`.
    case array([JinjaValue])
    /// Ordered key/value pairs; a repeated key keeps the last value at the first position.
    case object([(String, JinjaValue)])

    /// Structural equality; strings compare by their exact scalars (as Python's `==` does, not
    /// by Swift's canonical equivalence) and objects by their pairs in order.
    public static func == (a: JinjaValue, b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return PythonText.equal(x, y)
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Parses JSON text, keeping object key order. Integers without fraction or exponent become
    /// `.int` (as Python's `json` makes them `int`), other numbers `.double`.
    public init(jsonData: Data) throws {
        self = try JinjaValue.parseJSON(Array(jsonData))
    }

    /// Parses JSON text, keeping object key order.
    public init(jsonString: String) throws {
        self = try JinjaValue.parseJSON(Array(jsonString.utf8))
    }

    /// Parses with the strict shared ``JSONParser``; a syntax error becomes a runtime
    /// ``TemplateError`` naming the line and column of the JSON text.
    private static func parseJSON(_ bytes: [UInt8]) throws -> JinjaValue {
        do {
            return JinjaValue(json: try JSONParser.parse(bytes))
        } catch let error as JSONSyntaxError {
            throw TemplateError(.runtime, "invalid JSON at line \(error.line), column \(error.column): \(error.message)", line: 0, column: 0)
        }
    }

    /// The template value of a parsed JSON value (objects keep their key order).
    public init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .integer(let i): self = .int(i)
        case .number(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(JinjaValue.init(json:)))
        case .object(let o): self = .object(o.map { ($0.key, JinjaValue(json: $0.value)) })
        }
    }

    /// Converts Foundation JSON objects (`JSONSerialization` output or Swift literals):
    /// NSNull, Bool, numbers, String, arrays and `[String: Any]` (keys sorted, since a Swift
    /// dictionary has no order). Throws for anything else.
    public init(jsonObject: Any) throws {
        switch jsonObject {
        case is NSNull:
            self = .null
        case let v as JinjaValue:
            self = v
        case let s as String:
            self = .string(s)
        case let b as Bool where type(of: jsonObject) == Bool.self:
            self = .bool(b)
        case let i as Int where type(of: jsonObject) == Int.self:
            self = .int(i)
        case let d as Double where type(of: jsonObject) == Double.self:
            self = .double(d)
        case let n as NSNumber:
            self = JinjaValue.number(n)
        case let a as [Any]:
            self = .array(try a.map { try JinjaValue(jsonObject: $0) })
        case let d as [String: Any]:
            self = .object(try d.keys.sorted().map { ($0, try JinjaValue(jsonObject: d[$0]!)) })
        default:
            throw TemplateError(.runtime, "cannot convert a value of type \(type(of: jsonObject)) to a template value", line: 0, column: 0)
        }
    }

    private static func number(_ n: NSNumber) -> JinjaValue {
        #if canImport(Darwin)
        if CFGetTypeID(n) == CFBooleanGetTypeID() { return .bool(n.boolValue) }
        #endif
        let type = String(cString: n.objCType)
        if type == "c" || type == "B" { return .bool(n.boolValue) }
        if type == "d" || type == "f" { return .double(n.doubleValue) }
        return .int(n.intValue)
    }

    /// A chat message object `{"role": role, "content": content}`.
    public static func message(role: String, content: String) -> JinjaValue {
        .object([("role", .string(role)), ("content", .string(content))])
    }

    /// Looks up a key of an object (nil for other values or a missing key).
    public subscript(key: String) -> JinjaValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.last(where: { $0.0 == key })?.1
    }

    /// The interpreter's representation.
    var templateValue: TemplateValue {
        switch self {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .float(d)
        case .string(let s): return .string(s)
        case .array(let a): return .list(a.map(\.templateValue))
        case .object(let pairs):
            // A repeated key keeps its first position and its last value, as a Python dict does.
            return .dict(TemplateDictionary(pairs.lazy.map { ($0.0, $0.1.templateValue) }, uniquingKeysWith: { _, last in last }))
        }
    }
}

/// Swift literals build template values: `["role": "user", "content": "Hi"]` is an object
/// whose keys keep the order written.
extension JinjaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(elements) }
}
