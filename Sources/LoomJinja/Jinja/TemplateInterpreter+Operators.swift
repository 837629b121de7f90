import Foundation

/// Attribute access, subscripts, arithmetic and comparison with Python/jinja2 semantics.
extension TemplateInterpreter {
    static let safeDictMethods: Set<String> = ["items", "keys", "values", "get", "copy"]
    static let unsafeDictMethods: Set<String> = ["clear", "pop", "popitem", "setdefault", "update", "fromkeys"]
    static let safeListMethods: Set<String> = ["index", "count", "copy"]
    static let unsafeListMethods: Set<String> = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"]
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit", "splitlines", "upper", "lower",
        "title", "capitalize", "swapcase", "replace", "find", "rfind", "index", "rindex", "count", "join", "format",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "isnumeric", "isdecimal", "zfill",
        "removeprefix", "removesuffix", "center", "ljust", "rjust",
    ]

    private func unsafe(_ name: String, _ v: TemplateValue) -> TemplateValue {
        .undefined(hint: "access to attribute '\(name)' of '\(v.typeName)' object is unsafe.")
    }

    /// Python `getattr` with the sandbox's rules, then jinja2's fallback to subscripting.
    func attributeOnly(_ obj: TemplateValue, _ name: String) -> TemplateValue? {
        if name.hasPrefix("_") { return unsafe(name, obj) }
        switch obj {
        case .dict:
            if Self.safeDictMethods.contains(name) { return .method(obj, name) }
            if Self.unsafeDictMethods.contains(name) { return unsafe(name, obj) }
        case .list, .tuple:
            if Self.safeListMethods.contains(name) { return .method(obj, name) }
            if case .list = obj, Self.unsafeListMethods.contains(name) { return unsafe(name, obj) }
        case .string:
            if Self.stringMethods.contains(name) { return .method(obj, name) }
        case .namespace(let ns):
            return ns.attributes[name]
        case .loop(let l):
            return l.attribute(name)
        case .macro(let m):
            if name == "name" { return .string(m.name) }
        default:
            break
        }
        return nil
    }

    private func missing(_ obj: TemplateValue, _ key: String) -> TemplateValue {
        switch obj {
        case .none: return .undefined(hint: "'None' has no attribute '\(key)'")
        default: return .undefined(hint: "'\(obj.typeName) object' has no attribute '\(key)'")
        }
    }

    /// `obj.name`
    func getAttribute(_ obj: TemplateValue, _ name: String) throws -> TemplateValue {
        if case .undefined(let hint) = obj { throw RuntimeFailure(hint) }
        if let v = attributeOnly(obj, name) { return v }
        if case .dict(let d) = obj, let v = d[name] { return v }
        return missing(obj, name)
    }

    /// `obj[key]`
    func getItem(_ obj: TemplateValue, _ key: TemplateValue) throws -> TemplateValue {
        switch obj {
        case .undefined(let hint):
            throw RuntimeFailure(hint)
        case .dict(let d):
            if case .string(let k) = key {
                if let v = d[k] { return v }
                return attributeOnly(obj, k) ?? missing(obj, k)
            }
        case .list(let a), .tuple(let a):
            if let i = key.asInt {
                let j = i < 0 ? i + a.count : i
                if j >= 0 && j < a.count { return a[j] }
                return .undefined(hint: "'\(obj.typeName) object' has no element \(i)")
            }
        case .string(let s):
            if let i = key.asInt {
                let scalars = s.unicodeScalars
                let n = scalars.count
                let j = i < 0 ? i + n : i
                if j >= 0 && j < n { return .string(String(scalars[scalars.index(scalars.startIndex, offsetBy: j)])) }
                return .undefined(hint: "'str object' has no element \(i)")
            }
        default:
            break
        }
        if case .string(let k) = key { return attributeOnly(obj, k) ?? missing(obj, k) }
        return .undefined(hint: "'\(obj.typeName) object' has no element \(PythonFormat.repr(key))")
    }

    /// `obj[start:stop:step]`
    func slice(_ obj: TemplateValue, _ start: TemplateValue?, _ stop: TemplateValue?, _ step: TemplateValue?) throws -> TemplateValue {
        if case .undefined(let hint) = obj { throw RuntimeFailure(hint) }
        func bound(_ v: TemplateValue?) throws -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            guard let i = v.asInt else { throw RuntimeFailure("slice indices must be integers or None") }
            return i
        }
        let (a, b, c) = (try bound(start), try bound(stop), try bound(step) ?? 1)
        if c == 0 { throw RuntimeFailure("slice step cannot be zero") }
        func indices(_ n: Int) -> [Int] {
            var lo: Int, hi: Int
            if c > 0 {
                lo = a.map { $0 < 0 ? max($0 + n, 0) : min($0, n) } ?? 0
                hi = b.map { $0 < 0 ? max($0 + n, 0) : min($0, n) } ?? n
                return lo < hi ? Array(stride(from: lo, to: hi, by: c)) : []
            } else {
                lo = a.map { $0 < 0 ? max($0 + n, -1) : min($0, n - 1) } ?? n - 1
                hi = b.map { $0 < 0 ? max($0 + n, -1) : min($0, n - 1) } ?? -1
                return lo > hi ? Array(stride(from: lo, to: hi, by: c)) : []
            }
        }
        switch obj {
        case .list(let items): return .list(indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(indices(items.count).map { items[$0] })
        case .string(let s):
            if c == 1 {
                let utf8 = Array(s.utf8)
                if utf8.count == s.unicodeScalars.count {  // ASCII fast path
                    let idx = indices(utf8.count)
                    guard let first = idx.first, let last = idx.last else { return .string("") }
                    return .string(PythonText.string(utf8[first...last]))
                }
            }
            let scalars = Array(s.unicodeScalars)
            return .string(PythonText.string(scalars: indices(scalars.count).map { scalars[$0] }))
        case .dict:
            // jinja2 compiles slices to a plain Python subscript (no Undefined fallback).
            throw RuntimeFailure("unhashable type: 'slice'")
        default:
            throw RuntimeFailure("'\(obj.typeName)' object is not subscriptable")
        }
    }

    // MARK: - Arithmetic

    func binary(_ op: TemplateExpression.BinaryOperator, _ l: TemplateValue, _ r: TemplateValue) throws -> TemplateValue {
        // str.__mod__ accepts any right operand, Undefined included.
        if op == .modulo, case .string(let format) = l { return .string(try PythonPercentFormat.format(format, r)) }
        if case .undefined(let hint) = l { throw RuntimeFailure(hint) }
        if case .undefined(let hint) = r { throw RuntimeFailure(hint) }
        if let a = l.number, let b = r.number { return try arithmetic(op, a, b) }
        switch (op, l, r) {
        case (.add, .string(let a), .string(let b)):
            if a.utf8.count + b.utf8.count > Self.maxRepeatedLength { throw RuntimeFailure("string result larger than \(Self.maxRepeatedLength) bytes") }
            return .string(a + b)
        case (.add, .list(let a), .list(let b)):
            if a.count + b.count > Self.maxRepeatedLength { throw RuntimeFailure("list result too large") }
            return .list(a + b)
        case (.add, .tuple(let a), .tuple(let b)):
            return .tuple(a + b)
        case (.multiply, .string(let s), _) where r.asInt != nil:
            return .string(try repeated(s, r.asInt!))
        case (.multiply, _, .string(let s)) where l.asInt != nil:
            return .string(try repeated(s, l.asInt!))
        case (.multiply, .list(let a), _) where r.asInt != nil:
            return .list(try repeatedList(a, r.asInt!))
        case (.multiply, _, .list(let a)) where l.asInt != nil:
            return .list(try repeatedList(a, l.asInt!))
        default:
            if op == .add, case .string = l {
                throw RuntimeFailure("can only concatenate str (not \"\(r.typeName)\") to str")
            }
            if op == .add, case .list = l {
                throw RuntimeFailure("can only concatenate list (not \"\(r.typeName)\") to list")
            }
            throw RuntimeFailure("unsupported operand type(s) for \(op.rawValue): '\(l.typeName)' and '\(r.typeName)'")
        }
    }

    private func repeated(_ s: String, _ n: Int) throws -> String {
        if n <= 0 { return "" }
        if s.utf8.count.multipliedReportingOverflow(by: n).partialValue > Self.maxRepeatedLength || s.utf8.count > Self.maxRepeatedLength / max(n, 1) {
            throw RuntimeFailure("string repetition result too large")
        }
        return String(repeating: s, count: n)
    }

    private func repeatedList(_ a: [TemplateValue], _ n: Int) throws -> [TemplateValue] {
        if n <= 0 { return [] }
        if a.count > Self.maxRepeatedLength / max(n, 1) { throw RuntimeFailure("list repetition result too large") }
        var out: [TemplateValue] = []
        out.reserveCapacity(a.count * n)
        for _ in 0..<n { out.append(contentsOf: a) }
        return out
    }

    private func arithmetic(_ op: TemplateExpression.BinaryOperator, _ a: TemplateValue.Number, _ b: TemplateValue.Number) throws -> TemplateValue {
        if case .int(let x) = a, case .int(let y) = b {
            func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> TemplateValue {
                if r.overflow { throw RuntimeFailure("integer overflow (Loom templates use 64-bit integers)") }
                return .int(r.partialValue)
            }
            switch op {
            case .add: return try checked(x.addingReportingOverflow(y))
            case .subtract: return try checked(x.subtractingReportingOverflow(y))
            case .multiply: return try checked(x.multipliedReportingOverflow(by: y))
            case .divide:
                if y == 0 { throw RuntimeFailure("division by zero") }
                return .float(Double(x) / Double(y))
            case .floorDivide:
                if y == 0 { throw RuntimeFailure("integer division or modulo by zero") }
                if x == Int.min && y == -1 { throw RuntimeFailure("integer overflow") }
                let q = x / y
                return .int((x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q)
            case .modulo:
                if y == 0 { throw RuntimeFailure("integer division or modulo by zero") }
                if y == -1 { return .int(0) }
                let m = x % y
                return .int(m != 0 && ((m < 0) != (y < 0)) ? m + y : m)
            case .power:
                if y < 0 { return .float(Foundation.pow(Double(x), Double(y))) }
                var result = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 { result = try checked(result.multipliedReportingOverflow(by: base)).asInt! }
                    e >>= 1
                    if e > 0 { base = try checked(base.multipliedReportingOverflow(by: base)).asInt! }
                }
                return .int(result)
            }
        }
        let x: Double, y: Double
        switch a { case .int(let i): x = Double(i); case .float(let d): x = d }
        switch b { case .int(let i): y = Double(i); case .float(let d): y = d }
        switch op {
        case .add: return .float(x + y)
        case .subtract: return .float(x - y)
        case .multiply: return .float(x * y)
        case .divide:
            if y == 0 { throw RuntimeFailure("float division by zero") }
            return .float(x / y)
        case .floorDivide:
            if y == 0 { throw RuntimeFailure("float floor division by zero") }
            return .float((x / y).rounded(.down))
        case .modulo:
            if y == 0 { throw RuntimeFailure("float modulo") }
            var m = x.truncatingRemainder(dividingBy: y)
            if m != 0 && ((m < 0) != (y < 0)) { m += y }
            return .float(m)
        case .power:
            return .float(Foundation.pow(x, y))
        }
    }

    // MARK: - Comparison

    func compare(_ op: TemplateExpression.CompareOperator, _ l: TemplateValue, _ r: TemplateValue) throws -> Bool {
        switch op {
        case .equal: return Self.equal(l, r)
        case .notEqual: return !Self.equal(l, r)
        case .isIn: return try contains(r, l)
        case .notIn: return !(try contains(r, l))
        case .less: return try Self.less(l, r)
        case .greater: return try Self.less(r, l)
        case .lessEqual: return try Self.less(l, r) || Self.equal(l, r)
        case .greaterEqual: return try Self.less(r, l) || Self.equal(l, r)
        }
    }

    /// Python `==`.
    static func equal(_ l: TemplateValue, _ r: TemplateValue) -> Bool {
        if let a = l.number, let b = r.number {
            switch (a, b) {
            case (.int(let x), .int(let y)): return x == y
            case (.int(let x), .float(let y)): return Double(x) == y
            case (.float(let x), .int(let y)): return x == Double(y)
            case (.float(let x), .float(let y)): return x == y
            }
        }
        switch (l, r) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return PythonText.equal(a, b)
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.dict(let a), .dict(let b)):
            guard a.count == b.count else { return false }
            for (k, v) in a {
                guard let w = b[k], equal(v, w) else { return false }
            }
            return true
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.macro(let a), .macro(let b)): return a === b
        case (.builtin(let a), .builtin(let b)): return a == b
        default: return false
        }
    }

    /// Python `<` for numbers, strings and sequences.
    static func less(_ l: TemplateValue, _ r: TemplateValue) throws -> Bool {
        if let a = l.asDouble, let b = r.asDouble {
            if case .int(let x) = l.number, case .int(let y) = r.number { return x < y }
            return a < b
        }
        switch (l, r) {
        case (.string(let a), .string(let b)): return PythonText.less(a, b)
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !equal(x, y) { return try less(x, y) }
            return a.count < b.count
        default:
            if case .undefined(let hint) = l { throw RuntimeFailure(hint) }
            if case .undefined(let hint) = r { throw RuntimeFailure(hint) }
            throw RuntimeFailure("'<' not supported between instances of '\(l.typeName)' and '\(r.typeName)'")
        }
    }

    /// Python `item in container`.
    func contains(_ container: TemplateValue, _ item: TemplateValue) throws -> Bool {
        switch container {
        case .list(let a), .tuple(let a): return a.contains { Self.equal($0, item) }
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
