/// A GBNF grammar that cannot be used, with the place and the reason.
///
/// The message is meant for the user as is (the CLI prints it, the server returns it in a 400).
public struct GrammarError: Error, Equatable, CustomStringConvertible, Sendable {
    /// 1-based line of the problem in the grammar text, when it has a place.
    public let line: Int?
    /// 1-based column (in characters) of the problem, when it has a place.
    public let column: Int?
    /// What is wrong.
    public let message: String

    public init(line: Int? = nil, column: Int? = nil, _ message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        if let line, let column {
            return "grammar error at line \(line), column \(column): \(message)"
        }
        return "grammar error: \(message)"
    }
}
