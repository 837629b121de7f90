import OrderedCollections

/// The members of a JSON object in document order.
///
/// Order matters for chat templates (`tojson` of a tool schema must print keys as written,
/// as Python's `json` keeps them); lookups by key are hashed. A repeated key keeps its
/// first position and its last value, as a Python `dict` built by `json.loads` does.
public typealias JSONObject = OrderedDictionary<String, JSONValue>

/// A parsed JSON value: Hugging Face tokenizer and config files, and JSON given to chat
/// templates (tools, messages).
///
/// Integers without a fraction or exponent that fit in `Int` are kept exact (`.integer`); every
/// other number is a `.number` (Double), so `1e30`-style limits such as `model_max_length`
/// stay representable. Objects keep their key order and the last value of a repeated key,
/// as Python's `json` does.
public enum JSONValue: Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number without fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other (finite) number.
    case number(Double)
    /// A string (valid UTF-8, escapes decoded).
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, members in document order.
    case object(JSONObject)

    /// A short name of the value's kind for error messages ("a string", "an object", …).
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a bool"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
