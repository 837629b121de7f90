/// Expression grammar of `TemplateParser`, following jinja2's precedence levels.
extension TemplateParser {
    // MARK: - Expressions

    /// Comma-separated expressions become a tuple (jinja2 `parse_tuple`).
    mutating func parseTuple(withCondition: Bool = true, endName: String? = nil, explicitParentheses: Bool = false) throws -> TemplateExpression {
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
        return try expression(kind: .tuple(items), location: loc)
    }

    func isTupleEnd(_ endName: String?) -> Bool {
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
            expr = try expression(kind: .conditional(condition: condition, value: expr, otherwise: otherwise), location: loc)
        }
        return expr
    }

    mutating func parseOr() throws -> TemplateExpression {
        var left = try parseAnd()
        var chain = 0
        while isName("or") {
            try checkChain(&chain)
            let loc = next().location
            left = try expression(kind: .or(left, try parseAnd()), location: loc)
        }
        return left
    }

    mutating func parseAnd() throws -> TemplateExpression {
        var left = try parseNot()
        var chain = 0
        while isName("and") {
            try checkChain(&chain)
            let loc = next().location
            left = try expression(kind: .and(left, try parseNot()), location: loc)
        }
        return left
    }

    mutating func parseNot() throws -> TemplateExpression {
        if isName("not") {
            let loc = next().location
            try enter()
            defer { leave() }
            return try expression(kind: .not(try parseNot()), location: loc)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> TemplateExpression {
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
        return ops.isEmpty ? first : try expression(kind: .compare(first, ops), location: loc)
    }

    mutating func parseMath1() throws -> TemplateExpression {
        var left = try parseConcat()
        var chain = 0
        while isOp("+") || isOp("-") {
            try checkChain(&chain)
            let t = next()
            let op: TemplateExpression.BinaryOperator = isOp("+", t) ? .add : .subtract
            left = try expression(kind: .binary(op, left, try parseConcat()), location: t.location)
        }
        return left
    }

    mutating func parseConcat() throws -> TemplateExpression {
        let loc = current.location
        var items = [try parseMath2()]
        while skipOp("~") { items.append(try parseMath2()) }
        return items.count == 1 ? items[0] : try expression(kind: .concat(items), location: loc)
    }

    mutating func parseMath2() throws -> TemplateExpression {
        var left = try parsePow()
        var chain = 0
        while true {
            let op: TemplateExpression.BinaryOperator
            if isOp("*") { op = .multiply } else if isOp("/") { op = .divide } else if isOp("//") { op = .floorDivide } else if isOp("%") { op = .modulo } else { break }
            try checkChain(&chain)
            let loc = next().location
            left = try expression(kind: .binary(op, left, try parsePow()), location: loc)
        }
        return left
    }

    mutating func parsePow() throws -> TemplateExpression {
        var left = try parseUnary()
        var chain = 0
        while isOp("**") {
            try checkChain(&chain)
            let loc = next().location
            left = try expression(kind: .binary(.power, left, try parseUnary()), location: loc)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool = true) throws -> TemplateExpression {
        try enter()
        defer { leave() }
        var node: TemplateExpression
        if isOp("-") {
            let loc = next().location
            node = try expression(kind: .negate(try parseUnary(withFilter: false)), location: loc)
        } else if isOp("+") {
            let loc = next().location
            node = try expression(kind: .plus(try parseUnary(withFilter: false)), location: loc)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    mutating func parsePrimary() throws -> TemplateExpression {
        let token = current
        let loc = token.location
        switch token.kind {
        case .name(let n):
            index += 1
            switch n {
            case "true", "True": return try expression(kind: .constant(.bool(true)), location: loc)
            case "false", "False": return try expression(kind: .constant(.bool(false)), location: loc)
            case "none", "None": return try expression(kind: .constant(.none), location: loc)
            default: return try expression(kind: .name(n), location: loc)
            }
        case .string(var s):
            index += 1
            // Adjacent string literals concatenate, as in Python.
            while case .string(let more) = current.kind { s += more; index += 1 }
            return try expression(kind: .constant(.string(s)), location: loc)
        case .integer(let i):
            index += 1
            return try expression(kind: .constant(.int(i)), location: loc)
        case .float(let d):
            index += 1
            return try expression(kind: .constant(.float(d)), location: loc)
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
            return try expression(kind: .list(items), location: loc)
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
            return try expression(kind: .dict(items), location: loc)
        default:
            throw fail("unexpected \(token.display)")
        }
    }

    mutating func parsePostfix(_ start: TemplateExpression) throws -> TemplateExpression {
        var node = start
        while true {
            if isOp(".") {
                let loc = next().location
                switch current.kind {
                case .name(let n):
                    index += 1
                    node = try expression(kind: .attribute(node, n), location: loc)
                case .integer(let i):
                    index += 1
                    node = try expression(kind: .subscript(node, try expression(kind: .constant(.int(i)), location: loc)), location: loc)
                default:
                    throw fail("expected an attribute name after '.', got \(current.display)")
                }
            } else if isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = try expression(kind: .call(node, try parseCallArguments()), location: node.location)
            } else {
                return node
            }
        }
    }

    mutating func parseSubscript(_ target: TemplateExpression) throws -> TemplateExpression {
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
            return try expression(kind: .subscript(target, key), location: loc)
        }
        if parts.count > 3 { throw fail("invalid slice", at: loc) }
        while parts.count < 3 { parts.append(nil) }
        return try expression(kind: .slice(target, start: parts[0], stop: parts[1], step: parts[2]), location: loc)
    }

    mutating func parseCallArguments() throws -> TemplateExpression.Arguments {
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

    mutating func parseFilterExpression(_ start: TemplateExpression) throws -> TemplateExpression {
        var node = start
        while true {
            if isOp("|") {
                node = try parseFilterChain(node, startInline: false)
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp("(") {
                node = try expression(kind: .call(node, try parseCallArguments()), location: node.location)
            } else {
                return node
            }
        }
    }

    mutating func parseFilterChain(_ start: TemplateExpression, startInline: Bool) throws -> TemplateExpression {
        var node = start
        var inline = startInline
        while isOp("|") || inline {
            if !inline { index += 1 }
            inline = false
            let loc = current.location
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let args = isOp("(") ? try parseCallArguments() : .empty
            node = try expression(kind: .filter(node, name: name, args), location: loc)
        }
        return node
    }

    mutating func parseTest(_ subject: TemplateExpression) throws -> TemplateExpression {
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
        return try expression(kind: .test(subject, name: name, args, negated: negated), location: loc)
    }
}
