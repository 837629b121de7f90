import Foundation

/// Executes a parsed template with jinja2 semantics (Hugging Face's sandboxed environment).
/// One interpreter serves one render; it is not shared between threads.
final class TemplateInterpreter {
    /// Bounds that stand in for Python's recursion limit, so hostile templates fail with an
    /// error instead of overflowing the stack.
    static let maxMacroDepth = 64
    static let maxEvaluationDepth = 400

    let root: TemplateScope
    let now: Date
    let timeZone: TimeZone
    /// The render budget: string sizes, allocation, steps, value nesting, `range()`.
    let limits: TemplateLimits

    private var macroDepth = 0
    private var evaluationDepth = 0
    /// Work done so far, against `limits.maxSteps` (see `step`).
    var steps = 0
    /// Bytes of strings and lists created so far, against `limits.maxAllocatedBytes`.
    var allocated = 0

    enum Flow { case normal, breakLoop, continueLoop }

    init(globals: [String: TemplateValue], now: Date, timeZone: TimeZone, limits: TemplateLimits = .standard) {
        self.limits = limits
        var vars = globals
        for f in [TemplateValue.BuiltinFunction.range, .dict, .namespace, .raiseException, .strftimeNow] where vars[f.rawValue] == nil {
            vars[f.rawValue] = .builtin(f)
        }
        root = TemplateScope(parent: nil, variables: vars)
        self.now = now
        self.timeZone = timeZone
    }

    func render(_ body: [TemplateStatement]) throws -> String {
        var out = ""
        _ = try execute(body, root, &out)
        return out
    }

    // MARK: - Statements

    func execute(_ body: [TemplateStatement], _ scope: TemplateScope, _ out: inout String) throws -> Flow {
        for statement in body {
            steps += 1
            if steps > limits.maxSteps {
                throw TemplateError(.runtime, "template exceeded \(limits.maxSteps) execution steps", at: statement.location)
            }
            switch statement.kind {
            case .text(let s):
                try located(statement.location) { try emit(s, to: &out) }
            case .output(let e):
                let v = try evaluate(e, scope)
                try located(statement.location) { try emit(try str(v), to: &out) }
            case .ifChain(let branches, let otherwise):
                var taken = false
                for branch in branches where try evaluate(branch.condition, scope).truthy {
                    taken = true
                    let flow = try execute(branch.body, scope, &out)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try execute(otherwise, scope, &out)
                    if flow != .normal { return flow }
                }
            case .forLoop(let target, let iterable, let filter, let loopBody, let otherwise):
                try executeFor(target, iterable, filter, loopBody, otherwise, scope, &out, statement.location)
            case .set(let target, let e):
                let v = try evaluate(e, scope)
                try located(statement.location) { try assign(target, v, scope) }
            case .setBlock(let target, let blockBody, let filter):
                var captured = ""
                _ = try execute(blockBody, TemplateScope(parent: scope), &captured)
                try located(statement.location) { try reserveString(captured.utf8.count) }
                var v = TemplateValue.string(captured)
                if let filter {
                    v = try evaluate(filter, TemplateScope(parent: scope, variables: [TemplateStatement.capturedName: v]))
                }
                try located(statement.location) { try assign(target, v, scope) }
            case .macro(let name, let parameters, let macroBody):
                scope.variables[name] = .macro(TemplateMacro(name: name, parameters: parameters, body: macroBody, closure: scope))
            case .filterBlock(let filter, let blockBody):
                var captured = ""
                _ = try execute(blockBody, TemplateScope(parent: scope), &captured)
                let v = try evaluate(filter, TemplateScope(parent: scope, variables: [TemplateStatement.capturedName: .string(captured)]))
                try located(statement.location) { try emit(try str(v), to: &out) }
            case .scoped(let assignments, let scopedBody):
                let inner = TemplateScope(parent: scope)
                for (name, e) in assignments {
                    let v = try evaluate(e, scope)
                    try located(e.location) { try checkDepth(v) }
                    inner.variables[name] = v
                }
                let flow = try execute(scopedBody, inner, &out)
                if flow != .normal { return flow }
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    private func executeFor(_ target: TemplateStatement.Target, _ iterableExpr: TemplateExpression, _ filter: TemplateExpression?,
                            _ body: [TemplateStatement], _ otherwise: [TemplateStatement], _ scope: TemplateScope,
                            _ out: inout String, _ location: SourceLocation) throws {
        let iterable = try evaluate(iterableExpr, scope)
        var items = try located(iterableExpr.location) { try iterate(iterable) }
        if let filter {
            var kept: [TemplateValue] = []
            kept.reserveCapacity(items.count)
            for item in items {
                let probe = TemplateScope(parent: scope)
                try located(location) { try assign(target, item, probe) }
                if try evaluate(filter, probe).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(otherwise, TemplateScope(parent: scope), &out)
            return
        }
        let loop = TemplateLoop(items: items)
        for (i, item) in items.enumerated() {
            try located(location) { try step() }
            loop.index0 = i
            let iterationScope = TemplateScope(parent: scope, variables: ["loop": .loop(loop)])
            try located(location) { try assign(target, item, iterationScope) }
            if try execute(body, iterationScope, &out) == .breakLoop { break }
        }
    }

    /// Binds a `set` / `for` target, unpacking tuples like Python.
    func assign(_ target: TemplateStatement.Target, _ value: TemplateValue, _ scope: TemplateScope) throws {
        switch target {
        case .name(let n):
            try checkDepth(value)
            scope.variables[n] = value
        case .attribute(let nsName, let attr):
            guard case .namespace(let ns) = scope.lookup(nsName) ?? .undefinedName(nsName) else {
                throw RuntimeFailure("cannot assign attribute '\(attr)' on '\(nsName)': it is not a namespace object")
            }
            if attr.hasPrefix("_") { throw RuntimeFailure(Self.underscoreNamespaceMessage(attr)) }
            try checkDepth(value, storingInto: ns)
            ns.attributes[attr] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw RuntimeFailure(items.count < targets.count
                    ? "not enough values to unpack (expected \(targets.count), got \(items.count))"
                    : "too many values to unpack (expected \(targets.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        }
    }

    /// Python iteration: lists and tuples, dict keys, string code points; Undefined is empty.
    /// Every item counts as a step: filters and loops over big sequences use up the budget.
    func iterate(_ v: TemplateValue) throws -> [TemplateValue] {
        switch v {
        case .list(let a), .tuple(let a):
            try step(a.count)
            return a
        case .dict(let d):
            try step(d.count)
            try reserveList(d.count)
            return d.keys.map { .string($0) }
        case .string(let s):
            let n = s.unicodeScalars.count
            try step(n)
            try reserveList(n)
            return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace: throw RuntimeFailure("'Namespace' object is not iterable")
        default: throw RuntimeFailure("'\(v.typeName)' object is not iterable")
        }
    }

    /// Runs `body`, attaching `location` to position-less failures.
    @inline(__always)
    func located<T>(_ location: SourceLocation, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let f as RuntimeFailure {
            throw TemplateError(.runtime, f.message, at: location)
        }
    }

    // MARK: - Expressions

    func evaluate(_ e: TemplateExpression, _ scope: TemplateScope) throws -> TemplateValue {
        evaluationDepth += 1
        defer { evaluationDepth -= 1 }
        if evaluationDepth > Self.maxEvaluationDepth {
            throw TemplateError(.runtime, "expression nesting or recursion too deep", at: e.location)
        }
        do {
            return try evaluateKind(e, scope)
        } catch let f as RuntimeFailure {
            throw TemplateError(.runtime, f.message, at: e.location)
        }
    }

    private func evaluateKind(_ e: TemplateExpression, _ scope: TemplateScope) throws -> TemplateValue {
        switch e.kind {
        case .constant(let c):
            switch c {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .float(let d): return .float(d)
            case .string(let s): return .string(s)
            }
        case .name(let n):
            return scope.lookup(n) ?? .undefinedName(n)
        case .list(let items):
            try reserveList(items.count)
            return .list(try items.map { try evaluate($0, scope) })
        case .tuple(let items):
            try reserveList(items.count)
            return .tuple(try items.map { try evaluate($0, scope) })
        case .dict(let pairs):
            try reserveList(pairs.count * 2)
            var d = TemplateDictionary()
            for (k, v) in pairs {
                let key = try evaluate(k, scope)
                guard case .string(let ks) = key else {
                    throw TemplateError(.runtime, "only string keys are supported in dict literals, got \(key.typeName)", at: k.location)
                }
                d[ks] = try evaluate(v, scope)
            }
            return .dict(d)
        case .attribute(let target, let name):
            return try getAttribute(try evaluate(target, scope), name)
        case .subscript(let target, let key):
            return try getItem(try evaluate(target, scope), try evaluate(key, scope))
        case .slice(let target, let start, let stop, let step):
            let t = try evaluate(target, scope)
            return try slice(t, try start.map { try evaluate($0, scope) }, try stop.map { try evaluate($0, scope) },
                             try step.map { try evaluate($0, scope) })
        case .call(let callee, let args):
            let f = try evaluate(callee, scope)
            return try call(f, try evaluateArguments(args, scope), location: e.location)
        case .filter(let subject, let name, let args):
            let value = try evaluate(subject, scope)
            return try applyFilter(name, value, try evaluateArguments(args, scope))
        case .test(let subject, let name, let args, let negated):
            let value = try evaluate(subject, scope)
            let result = try applyTest(name, value, try evaluateArguments(args, scope))
            return .bool(result != negated)
        case .binary(let op, let l, let r):
            return try binary(op, try evaluate(l, scope), try evaluate(r, scope))
        case .concat(let items):
            var parts: [String] = []
            parts.reserveCapacity(items.count)
            var bytes = 0
            for item in items {
                let part = try str(try evaluate(item, scope))
                bytes = bytes.addingReportingOverflow(part.utf8.count).partialValue
                if bytes > limits.maxStringBytes || bytes < 0 { try reserveString(-1) }
                parts.append(part)
            }
            try reserveString(bytes)
            return .string(parts.joined())
        case .compare(let first, let rest):
            var left = try evaluate(first, scope)
            for (op, rightExpr) in rest {
                let right = try evaluate(rightExpr, scope)
                if !(try compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .and(let l, let r):
            let left = try evaluate(l, scope)
            return left.truthy ? try evaluate(r, scope) : left
        case .or(let l, let r):
            let left = try evaluate(l, scope)
            return left.truthy ? left : try evaluate(r, scope)
        case .not(let x):
            return .bool(!(try evaluate(x, scope)).truthy)
        case .negate(let x):
            let v = try evaluate(x, scope)
            switch v.number {
            case .int(let i):
                let r = 0.subtractingReportingOverflow(i)
                if r.overflow { throw Self.integerOverflow }
                return .int(r.partialValue)
            case .float(let d): return .float(-d)
            case nil:
                if case .undefined(let hint) = v { throw RuntimeFailure(hint) }
                throw RuntimeFailure("bad operand type for unary -: '\(v.typeName)'")
            }
        case .plus(let x):
            let v = try evaluate(x, scope)
            switch v.number {
            case .int(let i): return .int(i)
            case .float(let d): return .float(d)
            case nil:
                if case .undefined(let hint) = v { throw RuntimeFailure(hint) }
                throw RuntimeFailure("bad operand type for unary +: '\(v.typeName)'")
            }
        case .conditional(let condition, let value, let otherwise):
            if try evaluate(condition, scope).truthy { return try evaluate(value, scope) }
            if let otherwise { return try evaluate(otherwise, scope) }
            return .undefined(hint: "the inline if-expression on line \(e.location.line) evaluated to false and no else section was defined.")
        }
    }

    /// Evaluated call, filter or test arguments.
    struct Arguments {
        var positional: [TemplateValue] = []
        var keyword: [(String, TemplateValue)] = []

        /// Argument `index` positionally or by `name`.
        func value(_ index: Int, _ name: String) -> TemplateValue? {
            if index >= 0 && index < positional.count { return positional[index] }
            for (k, v) in keyword where k == name { return v }
            return nil
        }

        var isEmpty: Bool { positional.isEmpty && keyword.isEmpty }
    }

    private func evaluateArguments(_ args: TemplateExpression.Arguments, _ scope: TemplateScope) throws -> Arguments {
        if args.positional.isEmpty && args.keyword.isEmpty { return Arguments() }
        var out = Arguments()
        out.positional = try args.positional.map { try evaluate($0, scope) }
        out.keyword = try args.keyword.map { ($0.name, try evaluate($0.value, scope)) }
        return out
    }

    // MARK: - Calls

    func call(_ f: TemplateValue, _ args: Arguments, location: SourceLocation) throws -> TemplateValue {
        switch f {
        case .macro(let m):
            return try callMacro(m, args, location: location)
        case .builtin(let b):
            return try callBuiltin(b, args, location: location)
        case .method(let receiver, let name):
            return try callMethod(receiver, name, args)
        case .undefined(let hint):
            throw RuntimeFailure(hint)
        default:
            throw RuntimeFailure("'\(f.typeName)' object is not callable")
        }
    }

    private func callMacro(_ m: TemplateMacro, _ args: Arguments, location: SourceLocation) throws -> TemplateValue {
        if args.positional.count > m.parameters.count {
            throw RuntimeFailure("macro '\(m.name)' takes not more than \(m.parameters.count) argument(s)")
        }
        for (k, _) in args.keyword where !m.parameters.contains(where: { $0.name == k }) {
            throw RuntimeFailure("macro '\(m.name)' takes no keyword argument '\(k)'")
        }
        macroDepth += 1
        defer { macroDepth -= 1 }
        if macroDepth > Self.maxMacroDepth {
            throw RuntimeFailure("macro '\(m.name)' recursed deeper than \(Self.maxMacroDepth) calls")
        }
        let scope = TemplateScope(parent: m.closure)
        for (i, p) in m.parameters.enumerated() {
            if let v = args.value(i, p.name) {
                try checkDepth(v)
                scope.variables[p.name] = v
            } else if let d = p.defaultValue {
                scope.variables[p.name] = try evaluate(d, scope)
            } else {
                scope.variables[p.name] = .undefined(hint: "parameter '\(p.name)' was not provided")
            }
        }
        var out = ""
        _ = try execute(m.body, scope, &out)
        try reserveString(out.utf8.count)
        return .string(out)
    }
}
