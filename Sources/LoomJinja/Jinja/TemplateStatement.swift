/// A statement node of the template AST.
struct TemplateStatement: Sendable {
    /// Assignment target of `set` and `for`.
    indirect enum Target: Sendable {
        case name(String)
        /// `ns.attr` (only namespaces accept attribute assignment).
        case attribute(namespace: String, attribute: String)
        case tuple([Target])
    }

    /// A macro parameter with its optional default.
    struct Parameter: Sendable {
        let name: String
        let defaultValue: TemplateExpression?
    }

    indirect enum Kind: Sendable {
        case text(String)
        case output(TemplateExpression)
        case ifChain(branches: [(condition: TemplateExpression, body: [TemplateStatement])], otherwise: [TemplateStatement])
        case forLoop(target: Target, iterable: TemplateExpression, filter: TemplateExpression?,
                     body: [TemplateStatement], otherwise: [TemplateStatement])
        case set(Target, TemplateExpression)
        /// `{% set x %}…{% endset %}` with optional filters applied to the captured text
        /// (`filter` is an expression over the placeholder name `"\u{0}block"`).
        case setBlock(Target, body: [TemplateStatement], filter: TemplateExpression?)
        case macro(name: String, parameters: [Parameter], body: [TemplateStatement])
        /// `{% filter f %}…{% endfilter %}` (same placeholder convention as `setBlock`).
        case filterBlock(filter: TemplateExpression, body: [TemplateStatement])
        /// `{% generation %}`, `{% with %}` and similar: render the body in a new scope.
        case scoped(assignments: [(String, TemplateExpression)], body: [TemplateStatement])
        case breakLoop
        case continueLoop
    }

    let kind: Kind
    let location: SourceLocation

    /// Name under which `setBlock` / `filterBlock` expose the captured body text to their filter.
    static let capturedName = "\u{0}block"
}
