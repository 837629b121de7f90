import Foundation

/// A failure to lex, parse or render a chat template, with the template position it concerns.
///
/// `line` and `column` are 1-based and count Unicode scalars of the template source (after
/// newline normalisation, as Jinja does). Errors raised by the template itself through
/// `raise_exception(msg)` have kind `.raised` and carry the template's message verbatim.
public struct TemplateError: Error, LocalizedError, CustomStringConvertible, Equatable, Sendable {
    /// What stage failed.
    public enum Kind: String, Sendable {
        /// The template source is malformed (lexer or parser).
        case syntax
        /// Evaluation failed (type error, undefined value, unknown filter, ...).
        case runtime
        /// The template called `raise_exception(message)`.
        case raised
    }

    /// The stage that failed.
    public let kind: Kind
    /// Human-readable problem, without the position prefix.
    public let message: String
    /// 1-based template line (0 when the error has no position, e.g. bad input data).
    public let line: Int
    /// 1-based template column (0 when unknown).
    public let column: Int

    /// An error of `kind` at a 1-based template position (0, 0 when it has none).
    public init(_ kind: Kind, _ message: String, line: Int, column: Int) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    init(_ kind: Kind, _ message: String, at location: SourceLocation) {
        self.init(kind, message, line: location.line, column: location.column)
    }

    /// The same text as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }

    /// `template line L, column C: message` (or `template: message` without a position).
    public var description: String {
        let text = kind == .raised ? "raise_exception: \(message)" : message
        if line == 0 { return "template: \(text)" }
        return "template line \(line), column \(column): \(text)"
    }
}

/// A 1-based position in the template source.
struct SourceLocation: Sendable, Equatable {
    var line: Int
    var column: Int
    static let unknown = SourceLocation(line: 0, column: 0)
}
