import Foundation

/// Python comparisons of template values. `==` and `<` walk containers with an explicit work
/// list instead of recursion, so a deeply nested value cannot overflow the stack, and every
/// pair compared counts as a step of the render budget.
extension TemplateInterpreter {
    func compare(_ op: TemplateExpression.CompareOperator, _ l: TemplateValue, _ r: TemplateValue) throws -> Bool {
        switch op {
        case .equal: return try equal(l, r)
        case .notEqual: return !(try equal(l, r))
        case .isIn: return try contains(r, l)
        case .notIn: return !(try contains(r, l))
        case .less: return try less(l, r)
        case .greater: return try less(r, l)
        case .lessEqual: return try less(l, r) || equal(l, r)
        case .greaterEqual: return try less(r, l) || equal(l, r)
        }
    }

    /// Python `==`.
    func equal(_ l: TemplateValue, _ r: TemplateValue) throws -> Bool {
        var pending: [(TemplateValue, TemplateValue)] = [(l, r)]
        while let (a, b) = pending.popLast() {
            try step()
            switch (a, b) {
            case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
                guard x.count == y.count else { return false }
                // The same storage is equal without a walk (Python compares items by identity first).
                if Self.sameStorage(x, y) { continue }
                for (p, q) in zip(x, y) { pending.append((p, q)) }
            case (.dict(let x), .dict(let y)):
                guard x.count == y.count else { return false }
                for (k, v) in x {
                    guard let w = y[k] else { return false }
                    pending.append((v, w))
                }
            default:
                if !Self.scalarEqual(a, b) { return false }
            }
        }
        return true
    }

    private static func sameStorage(_ x: [TemplateValue], _ y: [TemplateValue]) -> Bool {
        x.withUnsafeBufferPointer { p in y.withUnsafeBufferPointer { q in p.baseAddress == q.baseAddress } }
    }

    /// `==` of values that hold no items to compare (containers of different kinds are unequal).
    private static func scalarEqual(_ l: TemplateValue, _ r: TemplateValue) -> Bool {
        if let a = l.number, let b = r.number { return compareNumbers(a, b) == .orderedSame }
        switch (l, r) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return PythonText.equal(a, b)
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.macro(let a), .macro(let b)): return a === b
        case (.builtin(let a), .builtin(let b)): return a == b
        default: return false
        }
    }

    /// Python's exact comparison of numbers (an int and a float compare by value, not after
    /// rounding the int to a float); nil when a NaN is involved.
    static func compareNumbers(_ a: TemplateValue.Number, _ b: TemplateValue.Number) -> ComparisonResult? {
        func order<T: Comparable>(_ x: T, _ y: T) -> ComparisonResult {
            x < y ? .orderedAscending : (x == y ? .orderedSame : .orderedDescending)
        }
        switch (a, b) {
        case (.int(let x), .int(let y)): return order(x, y)
        case (.float(let x), .float(let y)): return x.isNaN || y.isNaN ? nil : order(x, y)
        case (.int(let x), .float(let y)): return compareIntFloat(x, y)
        case (.float(let x), .int(let y)):
            switch compareIntFloat(y, x) {
            case .orderedAscending?: return .orderedDescending
            case .orderedDescending?: return .orderedAscending
            case let other: return other
            }
        }
    }

    private static func compareIntFloat(_ i: Int, _ d: Double) -> ComparisonResult? {
        if d.isNaN { return nil }
        if d >= 0x1p63 { return .orderedAscending }
        if d < -0x1p63 { return .orderedDescending }
        let whole = d.rounded(.towardZero)
        let w = Int(whole)  // exact: |whole| < 2**63 or whole == -2**63
        if i != w { return i < w ? .orderedAscending : .orderedDescending }
        if d == whole { return .orderedSame }
        return d > whole ? .orderedAscending : .orderedDescending
    }

    /// Python `<` for numbers, strings and sequences.
    func less(_ l: TemplateValue, _ r: TemplateValue) throws -> Bool {
        var (a, b) = (l, r)
        while true {
            try step()
            if let x = a.number, let y = b.number { return Self.compareNumbers(x, y) == .orderedAscending }
            switch (a, b) {
            case (.string(let x), .string(let y)): return PythonText.less(x, y)
            case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
                // Lexicographic: the first unequal pair decides (compared in the next round).
                var i = 0
                while i < min(x.count, y.count), try equal(x[i], y[i]) { i += 1 }
                if i == min(x.count, y.count) { return x.count < y.count }
                (a, b) = (x[i], y[i])
            default:
                if case .undefined(let hint) = a { throw RuntimeFailure(hint) }
                if case .undefined(let hint) = b { throw RuntimeFailure(hint) }
                throw RuntimeFailure("'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
        }
    }

    /// Python `item in container`.
    func contains(_ container: TemplateValue, _ item: TemplateValue) throws -> Bool {
        switch container {
        case .list(let a), .tuple(let a): return try a.contains { try equal($0, item) }
        case .dict(let d):
            switch item {
            case .string(let k): return d[k] != nil
            case .list, .dict, .namespace: throw RuntimeFailure("unhashable type: '\(item.typeName)'")
            default: return false
            }
        case .string(let s):
            guard case .string(let sub) = item else {
                if case .undefined(let hint) = item { throw RuntimeFailure(hint) }
                throw RuntimeFailure("'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return PythonText.contains(s, sub)
        case .undefined: return false
        case .namespace(let ns):
            if case .string(let k) = item { return ns.attributes[k] != nil }
            return false
        default:
            throw RuntimeFailure("argument of type '\(container.typeName)' is not iterable")
        }
    }
}
