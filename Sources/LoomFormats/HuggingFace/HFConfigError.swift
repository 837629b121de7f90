/// A `config.json` that cannot be used, naming the file and the field at fault.
///
/// ```
/// config.json: field num_key_value_heads: 5 does not divide num_attention_heads 9
/// ```
public struct HFConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    /// The JSON key concerned (dotted for nested keys, e.g. `rope_scaling.factor`), if any.
    public let field: String?
    public let reason: String

    public init(path: String, field: String?, reason: String) {
        self.path = path
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(path):" + (field.map { " field \($0):" } ?? "") + " " + reason }
}
