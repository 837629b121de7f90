/// A malformed or unusable safetensors file, naming the file, the tensor and the header
/// field at fault.
///
/// ```
/// model.safetensors: tensor 'model.norm.weight', field data_offsets: [0, 3000] has 3000 bytes, but F32 [576] needs 2304
/// ```
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// The file (or index file) being read or written.
    public let path: String
    /// The tensor concerned, if any.
    public let tensor: String?
    /// The header field concerned (`dtype`, `shape`, `data_offsets`, `__metadata__`,
    /// `header length`, `header`, `weight_map`, `file`), if any.
    public let field: String?
    /// What is wrong.
    public let reason: String

    public init(path: String, tensor: String? = nil, field: String? = nil, reason: String) {
        self.path = path
        self.tensor = tensor
        self.field = field
        self.reason = reason
    }

    public var description: String {
        var s = path + ":"
        if let tensor { s += " tensor '\(tensor)'" + (field == nil ? ":" : ",") }
        if let field { s += " field \(field):" }
        return s + " " + reason
    }
}
