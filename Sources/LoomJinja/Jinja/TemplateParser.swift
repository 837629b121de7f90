/// Recursive-descent parser producing the statement list of a template. The grammar and
/// operator precedence follow jinja2's `Parser` (condexpr < or < and < not < compare < +,- <
/// ~ < *,/,//,% < ** < unary < postfix/filters/tests).
struct TemplateParser {
    let tokens: [TemplateToken]
    var index = 0
    var depth = 0
    /// Enclosing `for` bodies (macros reset it): `break` / `continue` need one.
    var loopDepth = 0
    /// Bound on nesting (parentheses, brackets, blocks): deep recursion would overflow the stack
    /// of a server thread long before Python's own recursion limit would stop jinja2.
    static let maxNesting = 64

    static func parse(_ tokens: [TemplateToken]) throws -> [TemplateStatement] {
        var parser = TemplateParser(tokens: tokens)
        let (body, end) = try parser.subparse(until: [])
        if let end { throw parser.fail("unexpected '\(end)' without a matching opening tag", at: parser.previous.location) }
        return body
    }

    init(tokens: [TemplateToken]) { self.tokens = tokens }

    // MARK: - Token helpers

    var current: TemplateToken { tokens[index] }
    var previous: TemplateToken { tokens[max(0, index - 1)] }
    func peek(_ k: Int = 1) -> TemplateToken { tokens[min(index + k, tokens.count - 1)] }

    mutating func next() -> TemplateToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func fail(_ message: String, at loc: SourceLocation? = nil) -> TemplateError {
        TemplateError(.syntax, message, at: loc ?? current.location)
    }

    func isOp(_ op: String, _ t: TemplateToken? = nil) -> Bool {
        if case .op(let o) = (t ?? current).kind { return o == op }
        return false
    }

    func isName(_ n: String, _ t: TemplateToken? = nil) -> Bool {
        if case .name(let v) = (t ?? current).kind { return v == n }
        return false
    }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { index += 1; return true }
        return false
    }

    mutating func skipName(_ n: String) -> Bool {
        if isName(n) { index += 1; return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', got \(current.display)") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(current.display)") }
        index += 1
        return n
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw fail("expected end of block tag '%}', got \(current.display)") }
        index += 1
    }

    mutating func enter() throws {
        depth += 1
        if depth > Self.maxNesting { throw fail("template nesting deeper than \(Self.maxNesting) levels") }
    }

    mutating func leave() { depth -= 1 }

    /// Left-associative chains (`a + b + …`) build trees as deep as they are long; bound them
    /// so evaluation and deallocation stay within the stack.
    static let maxChain = 256

    /// Highest expression tree the parser builds. Evaluation stops at 400 nested evaluations
    /// anyway; the bound is checked as each node is made, so even a 100 000-long postfix or
    /// filter chain (`x|trim|trim…`, `x.a.a…`) never becomes a tree deep enough to overflow the
    /// stack when it is freed.
    static let maxExpressionHeight = 256

    func expression(kind: TemplateExpression.Kind, location: SourceLocation) throws -> TemplateExpression {
        let e = TemplateExpression(kind: kind, location: location)
        if e.height > Self.maxExpressionHeight {
            throw fail("expression nested deeper than \(Self.maxExpressionHeight) levels", at: location)
        }
        return e
    }

    func checkChain(_ length: inout Int) throws {
        length += 1
        if length > Self.maxChain { throw fail("expression chain longer than \(Self.maxChain) operators") }
    }

    // MARK: - Statements

    /// Parses statements until a block tag whose name is in `endTags`; returns the body and that
    /// tag name, with the parser positioned just after the name.
    mutating func subparse(until endTags: Set<String>) throws -> ([TemplateStatement], String?) {
        try enter()
        defer { leave() }
        var body: [TemplateStatement] = []
        while true {
            let token = current
            switch token.kind {
            case .end:
                if !endTags.isEmpty {
                    let expected = endTags.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw fail("unexpected end of template, expected \(expected)")
                }
                return (body, nil)
            case .text(let s):
                index += 1
                body.append(TemplateStatement(kind: .text(s), location: token.location))
            case .variableBegin:
                index += 1
                if case .variableEnd = current.kind { throw fail("expected an expression, got '}}'") }
                let expr = try parseTuple()
                guard case .variableEnd = current.kind else { throw fail("expected end of expression '}}', got \(current.display)") }
                index += 1
                body.append(TemplateStatement(kind: .output(expr), location: expr.location))
            case .blockBegin:
                index += 1
                guard case .name(let tag) = current.kind else { throw fail("expected a tag name, got \(current.display)") }
                if endTags.contains(tag) {
                    index += 1
                    return (body, tag)
                }
                body.append(try parseStatement(tag))
            default:
                throw fail("unexpected \(token.display)")
            }
        }
    }

    mutating func parseStatement(_ tag: String) throws -> TemplateStatement {
        let loc = current.location
        index += 1
        switch tag {
        case "if": return try parseIf(loc)
        case "for": return try parseFor(loc)
        case "set": return try parseSet(loc)
        case "macro": return try parseMacro(loc)
        case "break", "continue":
            if loopDepth == 0 { throw fail("'\(tag)' outside of a for loop", at: loc) }
            try expectBlockEnd()
            return TemplateStatement(kind: tag == "break" ? .breakLoop : .continueLoop, location: loc)
        case "filter":
            let filter = try parseFilterChain(try expression(kind: .name(TemplateStatement.capturedName), location: loc), startInline: true)
            try expectBlockEnd()
            let (body, _) = try subparse(until: ["endfilter"])
            try expectBlockEnd()
            return TemplateStatement(kind: .filterBlock(filter: filter, body: body), location: loc)
        case "generation":
            try expectBlockEnd()
            let (body, _) = try subparse(until: ["endgeneration"])
            try expectBlockEnd()
            return TemplateStatement(kind: .scoped(assignments: [], body: body), location: loc)
        case "with":
            var assignments: [(String, TemplateExpression)] = []
            while !(current.kind == .blockEnd) {
                if !assignments.isEmpty { try expectOp(",") }
                let name = try expectName()
                try expectOp("=")
                assignments.append((name, try parseExpression()))
            }
            try expectBlockEnd()
            let (body, _) = try subparse(until: ["endwith"])
            try expectBlockEnd()
            return TemplateStatement(kind: .scoped(assignments: assignments, body: body), location: loc)
        default:
            throw fail("unknown tag '\(tag)'", at: loc)
        }
    }

    mutating func parseIf(_ loc: SourceLocation) throws -> TemplateStatement {
        var branches: [(condition: TemplateExpression, body: [TemplateStatement])] = []
        var otherwise: [TemplateStatement] = []
        var condition = try parseTuple(withCondition: false)
        while true {
            try expectBlockEnd()
            let (body, end) = try subparse(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            if end == "elif" {
                condition = try parseTuple(withCondition: false)
                continue
            }
            if end == "else" {
                try expectBlockEnd()
                (otherwise, _) = try subparse(until: ["endif"])
            }
            try expectBlockEnd()
            return TemplateStatement(kind: .ifChain(branches: branches, otherwise: otherwise), location: loc)
        }
    }

    mutating func parseFor(_ loc: SourceLocation) throws -> TemplateStatement {
        let target = try parseAssignTarget(endName: "in", allowNamespace: false)
        guard skipName("in") else { throw fail("expected 'in' in for loop, got \(current.display)") }
        let iterable = try parseTuple(withCondition: false, endName: "recursive")
        var filter: TemplateExpression?
        if skipName("if") { filter = try parseExpression() }
        if isName("recursive") { throw fail("recursive for loops are not supported") }
        try expectBlockEnd()
        loopDepth += 1
        let (body, end) = try subparse(until: ["endfor", "else"])
        loopDepth -= 1
        var otherwise: [TemplateStatement] = []
        if end == "else" {
            try expectBlockEnd()
            (otherwise, _) = try subparse(until: ["endfor"])
        }
        try expectBlockEnd()
        return TemplateStatement(kind: .forLoop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise),
                                 location: loc)
    }

    mutating func parseSet(_ loc: SourceLocation) throws -> TemplateStatement {
        let target = try parseAssignTarget(endName: nil, allowNamespace: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return TemplateStatement(kind: .set(target, value), location: loc)
        }
        var filter: TemplateExpression?
        if isOp("|") {
            filter = try parseFilterChain(try expression(kind: .name(TemplateStatement.capturedName), location: loc), startInline: false)
        }
        try expectBlockEnd()
        let (body, _) = try subparse(until: ["endset"])
        try expectBlockEnd()
        return TemplateStatement(kind: .setBlock(target, body: body, filter: filter), location: loc)
    }

    mutating func parseMacro(_ loc: SourceLocation) throws -> TemplateStatement {
        let name = try expectName()
        try expectOp("(")
        var parameters: [TemplateStatement.Parameter] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let p = try expectName()
            var def: TemplateExpression?
            if skipOp("=") { def = try parseExpression() } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw fail("non-default parameter '\(p)' follows a default parameter")
            }
            parameters.append(.init(name: p, defaultValue: def))
        }
        try expectOp(")")
        try expectBlockEnd()
        let outerLoops = loopDepth
        loopDepth = 0
        let (body, _) = try subparse(until: ["endmacro"])
        loopDepth = outerLoops
        _ = skipName(name)
        try expectBlockEnd()
        return TemplateStatement(kind: .macro(name: name, parameters: parameters, body: body), location: loc)
    }

    /// `name`, `a, b`, `(a, b)` or (for `set`) `ns.attr`.
    mutating func parseAssignTarget(endName: String?, allowNamespace: Bool) throws -> TemplateStatement.Target {
        if allowNamespace, case .name(let ns) = current.kind, isOp(".", peek()) {
            index += 2
            return .attribute(namespace: ns, attribute: try expectName())
        }
        var items: [TemplateStatement.Target] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isOp("=") || current.kind == .blockEnd || (endName.map { isName($0) } ?? false) { break }
            if skipOp("(") {
                try enter()
                let inner = try parseAssignTarget(endName: nil, allowNamespace: false)
                leave()
                try expectOp(")")
                items.append(inner)
            } else {
                let loc = current.location
                let n = try expectName()
                if ["true", "false", "none", "True", "False", "None"].contains(n) {
                    throw fail("cannot assign to '\(n)'", at: loc)
                }
                items.append(.name(n))
            }
            if isOp(",") { isTuple = true } else { break }
        }
        if items.isEmpty { throw fail("expected an assignment target, got \(current.display)") }
        return isTuple ? .tuple(items) : items[0]
    }
}
