/// Why a zip archive (a wheel) could not be read.
public enum ZipError: Error, Equatable, CustomStringConvertible {
    /// The archive's structure (directory, headers, offsets) is damaged or not a zip at all.
    case malformed(path: String, reason: String)
    /// The archive uses a feature Loom does not read (encryption, other compression methods).
    case unsupported(path: String, reason: String)
    /// An entry's data does not decode to what the directory promises.
    case corruptEntry(path: String, entry: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(path, reason):
            return "\(path): not a readable zip archive: \(reason)"
        case let .unsupported(path, reason):
            return "\(path): unsupported zip feature: \(reason)"
        case let .corruptEntry(path, entry, reason):
            return "\(path): entry \(entry) is corrupt: \(reason)"
        }
    }
}
