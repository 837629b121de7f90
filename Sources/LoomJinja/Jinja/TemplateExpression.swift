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
    /// Levels of the tree below and including this node: the parser refuses trees higher than
    /// `TemplateParser.maxExpressionHeight`, so evaluating and freeing them stays within the stack.
    let height: Int

    init(kind: Kind, location: SourceLocation) {
        self.kind = kind
        self.location = location
        height = 1 + Self.childHeight(kind)
    }

    private static func childHeight(_ kind: Kind) -> Int {
        func h(_ e: TemplateExpression?) -> Int { e?.height ?? 0 }
        func h(_ es: [TemplateExpression]) -> Int { es.reduce(0) { max($0, $1.height) } }
        func h(_ a: Arguments) -> Int { max(h(a.positional), a.keyword.reduce(0) { max($0, $1.value.height) }) }
        switch kind {
        case .constant, .name: return 0
        case .list(let items), .tuple(let items), .concat(let items): return h(items)
        case .dict(let pairs): return pairs.reduce(0) { max($0, $1.key.height, $1.value.height) }
        case .attribute(let t, _): return h(t)
        case .subscript(let t, let k): return max(h(t), h(k))
        case .slice(let t, let a, let b, let c): return max(h(t), h(a), h(b), h(c))
        case .call(let f, let args): return max(h(f), h(args))
        case .filter(let s, _, let args), .test(let s, _, let args, _): return max(h(s), h(args))
        case .binary(_, let l, let r), .and(let l, let r), .or(let l, let r): return max(h(l), h(r))
        case .compare(let first, let rest): return rest.reduce(h(first)) { max($0, $1.1.height) }
        case .not(let x), .negate(let x), .plus(let x): return h(x)
        case .conditional(let c, let v, let o): return max(h(c), h(v), h(o))
        }
    }
}
