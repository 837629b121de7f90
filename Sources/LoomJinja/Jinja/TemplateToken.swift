/// One lexical token of a Jinja template.
struct TemplateToken: Sendable {
    enum Kind: Sendable, Equatable {
        /// Literal template text between tags (already whitespace-controlled).
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        /// An operator or punctuation: `+ - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | ,`
        case op(String)
        case end
    }

    let kind: Kind
    let location: SourceLocation

    /// Short description for "expected X, got Y" errors.
    var display: String {
        switch kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string: return "string literal"
        case .integer(let i): return "'\(i)'"
        case .float(let d): return "'\(d)'"
        case .op(let o): return "'\(o)'"
        case .end: return "end of template"
        }
    }
}
