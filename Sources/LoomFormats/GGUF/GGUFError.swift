/// A GGUF file that cannot be read or written, naming the file, the field and (when known)
/// the byte offset where the problem was found.
///
/// `description` reads like
/// `model.gguf: tensor 'blk.3.attn_q.weight' (offset 1234): data runs past end of file (…)`.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    /// The file being read or written.
    public let path: String
    /// The field at fault, e.g. `version`, `n_kv`, `key 'general.alignment'`,
    /// `tensor 'output.weight' ne[1]`.
    public let field: String
    /// Absolute byte offset in the file where the field starts, if it is known.
    public let offset: Int?
    /// What is wrong with it.
    public let reason: String

    public init(path: String, field: String, offset: Int?, reason: String) {
        self.path = path
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        if let offset {
            return "\(path): \(field) (offset \(offset)): \(reason)"
        }
        return "\(path): \(field): \(reason)"
    }
}
