/// Why a saved session state (a prompt cache, `--prompt-cache`) cannot be used. Each case
/// names the file and what is wrong with it.
public enum SessionStateError: Error, CustomStringConvertible, Equatable {
    /// The file does not start with a Loom session-state header.
    case notAStateFile(path: String, reason: String)
    /// The file is shorter than its header says.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The state was saved from another model, adapter set, RoPE setting or cache type.
    case mismatch(path: String, field: String, saved: String, current: String)
    /// More saved positions than this session's context holds.
    case tooLong(path: String, tokens: Int, capacity: Int)

    public var description: String {
        switch self {
        case let .notAStateFile(path, reason):
            return "\(path): not a Loom prompt cache (\(reason))"
        case let .truncated(path, expected, actual):
            return "\(path): truncated prompt cache: \(actual) bytes, its header needs \(expected)"
        case let .mismatch(path, field, saved, current):
            return "\(path): prompt cache saved with a different \(field) (saved \(saved), now \(current))"
        case let .tooLong(path, tokens, capacity):
            return "\(path): prompt cache holds \(tokens) tokens but the context holds \(capacity); raise --ctx"
        }
    }
}
