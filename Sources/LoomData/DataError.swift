/// A failure of a `loom data` stage that stops the stage (bad arguments, an unreadable
/// input, an unwritable output). Problems with single documents or lines never throw: they
/// are counted in the stage's statistics instead.
public struct DataError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, naming the file or option at fault.
    public let message: String

    /// Creates an error with a message that names the problem.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
