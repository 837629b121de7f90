/// Recursive-descent parser producing the statement list of a template. The grammar and
/// operator precedence follow jinja2's `Parser` (condexpr < or < and < not < compare < +,- <
/// ~ < *,/,//,% < ** < unary < postfix/filters/tests).
struct TemplateParser {
    private let tokens: [TemplateToken]
    private var index = 0
    private var depth = 0
    /// Enclosing `for` bodies (macros reset it): `break` / `continue` need one.
    private var loopDepth = 0
    /// Bound on nesting (parentheses, brackets, blocks): deep recursion would overflow the stack
    /// of a server thread long before Python's own recursion limit would stop jinja2.
    static let maxNesting = 64

    static func parse(_ tokens: [TemplateToken]) throws -> [TemplateStatement] {
        var parser = TemplateParser(tokens: tokens)
        let (body, end) = try parser.subparse(until: [])
        if let end { throw parser.fail("unexpected '\(end)' without a matching opening tag", at: parser.previous.location) }
        return body
    }

    private init(tokens: [TemplateToken]) { self.tokens = tokens }

    // MARK: - Token helpers

    private var current: TemplateToken { tokens[index] }
    private var previous: TemplateToken { tokens[max(0, index - 1)] }
    private func peek(_ k: Int = 1) -> TemplateToken { tokens[min(index + k, tokens.count - 1)] }

    private mutating func next() -> TemplateToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private func fail(_ message: String, at loc: SourceLocation? = nil) -> TemplateError {
        TemplateError(.syntax, message, at: loc ?? current.location)
    }

    private func isOp(_ op: String, _ t: TemplateToken? = nil) -> Bool {
        if case .op(let o) = (t ?? current).kind { return o == op }
        return false
    }

    private func isName(_ n: String, _ t: TemplateToken? = nil) -> Bool {
        if case .name(let v) = (t ?? current).kind { return v == n }
        return false
    }

    private mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { index += 1; return true }
        return false
    }

    private mutating func skipName(_ n: String) -> Bool {
        if isName(n) { index += 1; return true }
        return false
    }

    private mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', got \(current.display)") }
    }

    private mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(current.display)") }
        index += 1
        return n
    }

    private mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw fail("expected end of block tag '%}', got \(current.display)") }
        index += 1
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maxNesting { throw fail("template nesting deeper than \(Self.maxNesting) levels") }
    }

    private mutating func leave() { depth -= 1 }

    /// Left-associative chains (`a + b + …`) build trees as deep as they are long; bound them
    /// so evaluation and deallocation stay within the stack.
    static let maxChain = 256

    private func checkChain(_ length: inout Int) throws {
        length += 1
        if length > Self.maxChain { throw fail("expression chain longer than \(Self.maxChain) operators") }
    }

    // MARK: - Statements

    /// Parses statements until a block tag whose name is in `endTags`; returns the body and that
    /// tag name, with the parser positioned just after the name.
    private mutating func subparse(until endTags: Set<String>) throws -> ([TemplateStatement], String?) {
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

    private mutating func parseStatement(_ tag: String) throws -> TemplateStatement {
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
            let filter = try parseFilterChain(TemplateExpression(kind: .name(TemplateStatement.capturedName), location: loc), startInline: true)
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

    private mutating func parseIf(_ loc: SourceLocation) throws -> TemplateStatement {
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

    private mutating func parseFor(_ loc: SourceLocation) throws -> TemplateStatement {
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

    private mutating func parseSet(_ loc: SourceLocation) throws -> TemplateStatement {
        let target = try parseAssignTarget(endName: nil, allowNamespace: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return TemplateStatement(kind: .set(target, value), location: loc)
        }
        var filter: TemplateExpression?
        if isOp("|") {
            filter = try parseFilterChain(TemplateExpression(kind: .name(TemplateStatement.capturedName), location: loc), startInline: false)
        }
        try expectBlockEnd()
        let (body, _) = try subparse(until: ["endset"])
        try expectBlockEnd()
        return TemplateStatement(kind: .setBlock(target, body: body, filter: filter), location: loc)
    }

    private mutating func parseMacro(_ loc: SourceLocation) throws -> TemplateStatement {
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
    private mutating func parseAssignTarget(endName: String?, allowNamespace: Bool) throws -> TemplateStatement.Target {
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

    // MARK: - Expressions

    /// Comma-separated expressions become a tuple (jinja2 `parse_tuple`).
    private mutating func parseTuple(withCondition: Bool = true, endName: String? = nil, explicitParentheses: Bool = false) throws -> TemplateExpression {
        let loc = current.location
        var items: [TemplateExpression] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(endName) { break }
            items.append(withCondition ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw fail("expected an expression, got \(current.display)") }
        }
        return TemplateExpression(kind: .tuple(items), location: loc)
    }

    private func isTupleEnd(_ endName: String?) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .end: return true
        case .op(")"): return true
        case .name(let n): return n == endName
        default: return false
        }
    }

    mutating func parseExpression() throws -> TemplateExpression {
        try enter()
        defer { leave() }
        var expr = try parseOr()
        while isName("if") {
            let loc = current.location
            index += 1
            let condition = try parseOr()
            var otherwise: TemplateExpression?
            if skipName("else") { otherwise = try parseExpression() }
            expr = TemplateExpression(kind: .conditional(condition: condition, value: expr, otherwise: otherwise), location: loc)
        }
        return expr
    }

    private mutating func parseOr() throws -> TemplateExpression {
        var left = try parseAnd()
        var chain = 0
        while isName("or") {
            try checkChain(&chain)
            let loc = next().location
            left = TemplateExpression(kind: .or(left, try parseAnd()), location: loc)
        }
        return left
    }

    private mutating func parseAnd() throws -> TemplateExpression {
        var left = try parseNot()
        var chain = 0
        while isName("and") {
            try checkChain(&chain)
            let loc = next().location
            left = TemplateExpression(kind: .and(left, try parseNot()), location: loc)
        }
        return left
    }

    private mutating func parseNot() throws -> TemplateExpression {
        if isName("not") {
            let loc = next().location
            try enter()
            defer { leave() }
            return TemplateExpression(kind: .not(try parseNot()), location: loc)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> TemplateExpression {
        let loc = current.location
        let first = try parseMath1()
        var ops: [(TemplateExpression.CompareOperator, TemplateExpression)] = []
        while true {
            if case .op(let o) = current.kind, let op = TemplateExpression.CompareOperator(rawValue: o), op != .isIn, op != .notIn {
                index += 1
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append((.isIn, try parseMath1()))
            } else if isName("not") && isName("in", peek()) {
                index += 2
                ops.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : TemplateExpression(kind: .compare(first, ops), location: loc)
    }

    private mutating func parseMath1() throws -> TemplateExpression {
        var left = try parseConcat()
        var chain = 0
        while isOp("+") || isOp("-") {
            try checkChain(&chain)
            let t = next()
            let op: TemplateExpression.BinaryOperator = isOp("+", t) ? .add : .subtract
            left = TemplateExpression(kind: .binary(op, left, try parseConcat()), location: t.location)
        }
        return left
    }

    private mutating func parseConcat() throws -> TemplateExpression {
        let loc = current.location
        var items = [try parseMath2()]
        while skipOp("~") { items.append(try parseMath2()) }
        return items.count == 1 ? items[0] : TemplateExpression(kind: .concat(items), location: loc)
    }

    private mutating func parseMath2() throws -> TemplateExpression {
        var left = try parsePow()
        var chain = 0
        while true {
            let op: TemplateExpression.BinaryOperator
            if isOp("*") { op = .multiply } else if isOp("/") { op = .divide } else if isOp("//") { op = .floorDivide } else if isOp("%") { op = .modulo } else { break }
            try checkChain(&chain)
            let loc = next().location
            left = TemplateExpression(kind: .binary(op, left, try parsePow()), location: loc)
        }
        return left
    }

    private mutating func parsePow() throws -> TemplateExpression {
        var left = try parseUnary()
        var chain = 0
        while isOp("**") {
            try checkChain(&chain)
            let loc = next().location
            left = TemplateExpression(kind: .binary(.power, left, try parseUnary()), location: loc)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> TemplateExpression {
        try enter()
        defer { leave() }
        var node: TemplateExpression
        if isOp("-") {
            let loc = next().location
            node = TemplateExpression(kind: .negate(try parseUnary(withFilter: false)), location: loc)
        } else if isOp("+") {
            let loc = next().location
            node = TemplateExpression(kind: .plus(try parseUnary(withFilter: false)), location: loc)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws -> TemplateExpression {
        let token = current
        let loc = token.location
        switch token.kind {
        case .name(let n):
            index += 1
            switch n {
            case "true", "True": return TemplateExpression(kind: .constant(.bool(true)), location: loc)
            case "false", "False": return TemplateExpression(kind: .constant(.bool(false)), location: loc)
            case "none", "None": return TemplateExpression(kind: .constant(.none), location: loc)
            default: return TemplateExpression(kind: .name(n), location: loc)
            }
        case .string(var s):
            index += 1
            // Adjacent string literals concatenate, as in Python.
            while case .string(let more) = current.kind { s += more; index += 1 }
            return TemplateExpression(kind: .constant(.string(s)), location: loc)
        case .integer(let i):
            index += 1
            return TemplateExpression(kind: .constant(.int(i)), location: loc)
        case .float(let d):
            index += 1
            return TemplateExpression(kind: .constant(.float(d)), location: loc)
        case .op("("):
            index += 1
            let inner = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return inner
        case .op("["):
            index += 1
            var items: [TemplateExpression] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return TemplateExpression(kind: .list(items), location: loc)
        case .op("{"):
            index += 1
            var items: [(key: TemplateExpression, value: TemplateExpression)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                items.append((key, try parseExpression()))
            }
            try expectOp("}")
            return TemplateExpression(kind: .dict(items), location: loc)
        default:
            throw fail("unexpected \(token.display)")
        }
    }

    private mutating func parsePostfix(_ start: TemplateExpression) throws -> TemplateExpression {
        var node = start
        while true {
            if isOp(".") {
                let loc = next().location
                switch current.kind {
                case .name(let n):
                    index += 1
                    node = TemplateExpression(kind: .attribute(node, n), location: loc)
                case .integer(let i):
                    index += 1
                    node = TemplateExpression(kind: .subscript(node, TemplateExpression(kind: .constant(.int(i)), location: loc)), location: loc)
                default:
                    throw fail("expected an attribute name after '.', got \(current.display)")
                }
            } else if isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = TemplateExpression(kind: .call(node, try parseCallArguments()), location: node.location)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ target: TemplateExpression) throws -> TemplateExpression {
        let loc = next().location
        try enter()
        defer { leave() }
        var parts: [TemplateExpression?] = []
        var isSlice = false
        if !isOp(":") { parts.append(try parseExpression()) } else { parts.append(nil) }
        while skipOp(":") {
            isSlice = true
            if isOp(":") || isOp("]") { parts.append(nil) } else { parts.append(try parseExpression()) }
        }
        if isOp(",") { throw fail("tuple subscripts are not supported") }
        try expectOp("]")
        if !isSlice, let key = parts[0] {
            return TemplateExpression(kind: .subscript(target, key), location: loc)
        }
        if parts.count > 3 { throw fail("invalid slice", at: loc) }
        while parts.count < 3 { parts.append(nil) }
        return TemplateExpression(kind: .slice(target, start: parts[0], stop: parts[1], step: parts[2]), location: loc)
    }

    private mutating func parseCallArguments() throws -> TemplateExpression.Arguments {
        try expectOp("(")
        try enter()
        defer { leave() }
        var args = TemplateExpression.Arguments()
        var first = true
        while !isOp(")") {
            if !first { try expectOp(",") }
            first = false
            if isOp(")") { break }
            if isOp("*") || isOp("**") { throw fail("*args and **kwargs in calls are not supported") }
            if case .name(let n) = current.kind, isOp("=", peek()) {
                index += 2
                args.keyword.append((n, try parseExpression()))
            } else {
                if !args.keyword.isEmpty { throw fail("positional argument follows keyword argument") }
                args.positional.append(try parseExpression())
            }
        }
        try expectOp(")")
        return args
    }

    private mutating func parseFilterExpression(_ start: TemplateExpression) throws -> TemplateExpression {
        var node = start
        while true {
            if isOp("|") {
                node = try parseFilterChain(node, startInline: false)
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp("(") {
                node = TemplateExpression(kind: .call(node, try parseCallArguments()), location: node.location)
            } else {
                return node
            }
        }
    }

    private mutating func parseFilterChain(_ start: TemplateExpression, startInline: Bool) throws -> TemplateExpression {
        var node = start
        var inline = startInline
        while isOp("|") || inline {
            if !inline { index += 1 }
            inline = false
            let loc = current.location
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let args = isOp("(") ? try parseCallArguments() : .empty
            node = TemplateExpression(kind: .filter(node, name: name, args), location: loc)
        }
        return node
    }

    private mutating func parseTest(_ subject: TemplateExpression) throws -> TemplateExpression {
        let loc = next().location
        let negated = skipName("not")
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        var args = TemplateExpression.Arguments.empty
        if isOp("(") {
            args = try parseCallArguments()
        } else {
            let startsArgument: Bool
            switch current.kind {
            case .name(let n): startsArgument = !["else", "or", "and"].contains(n)
            case .string, .integer, .float, .op("["), .op("{"): startsArgument = true
            default: startsArgument = false
            }
            if startsArgument {
                if isName("is") { throw fail("you cannot chain multiple tests with 'is'") }
                args.positional = [try parsePostfix(try parsePrimary())]
            }
        }
        return TemplateExpression(kind: .test(subject, name: name, args, negated: negated), location: loc)
    }
}
