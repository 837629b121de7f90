/// An expression node of the template AST, with the position of its first token.
struct TemplateExpression: Sendable {
    enum BinaryOperator: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    }

    enum CompareOperator: String, Sendable {
        case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
        case isIn = "in", notIn = "not in"
    }

    /// A literal constant.
    enum Constant: Sendable {
        case none, bool(Bool), int(Int), float(Double), string(String)
    }

    /// Positional and keyword arguments of a call, filter or test.
    struct Arguments: Sendable {
        var positional: [TemplateExpression] = []
        var keyword: [(name: String, value: TemplateExpression)] = []
        static let empty = Arguments()
    }

    indirect enum Kind: Sendable {
        case constant(Constant)
        case name(String)
        case list([TemplateExpression])
        case tuple([TemplateExpression])
        case dict([(key: TemplateExpression, value: TemplateExpression)])
        case attribute(TemplateExpression, String)
        case `subscript`(TemplateExpression, TemplateExpression)
        case slice(TemplateExpression, start: TemplateExpression?, stop: TemplateExpression?, step: TemplateExpression?)
        case call(TemplateExpression, Arguments)
        case filter(TemplateExpression, name: String, Arguments)
        case test(TemplateExpression, name: String, Arguments, negated: Bool)
        case binary(BinaryOperator, TemplateExpression, TemplateExpression)
        /// `a ~ b ~ c`
        case concat([TemplateExpression])
        /// Chained comparison `a < b <= c` (Python semantics).
        case compare(TemplateExpression, [(CompareOperator, TemplateExpression)])
        case and(TemplateExpression, TemplateExpression)
        case or(TemplateExpression, TemplateExpression)
        case not(TemplateExpression)
        case negate(TemplateExpression)
        case plus(TemplateExpression)
        /// `value if condition else otherwise` (`otherwise` nil gives undefined).
        case conditional(condition: TemplateExpression, value: TemplateExpression, otherwise: TemplateExpression?)
    }

    let kind: Kind
    let location: SourceLocation
}
