/// A parsed JSON value: Hugging Face tokenizer and config files, and JSON given to chat
/// templates (tools, messages).
///
/// Integers without a fraction or exponent that fit in `Int` are kept exact (`.integer`); every
/// other number is a `.number` (Double), so `1e30`-style limits such as `model_max_length`
/// stay representable. Objects keep their key order and the last value of a repeated key,
/// as Python's `json` does.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A short name of the value's kind for error messages ("a string", "an object", …).
    var kindDescription: String {
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
