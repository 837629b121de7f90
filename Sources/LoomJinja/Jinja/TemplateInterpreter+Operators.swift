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
        return .undefined(hint: "'\(obj.typeName) object' has no element \(PythonFormat.preview(key))")
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

    // MARK: - Operators on values

    func binary(_ op: TemplateExpression.BinaryOperator, _ l: TemplateValue, _ r: TemplateValue) throws -> TemplateValue {
        // str.__mod__ accepts any right operand, Undefined included.
        if op == .modulo, case .string(let format) = l {
            let text = try PythonPercentFormat.format(format, r, limit: limits.maxStringBytes)
            try reserveString(text.utf8.count)
            return .string(text)
        }
        if case .undefined(let hint) = l { throw RuntimeFailure(hint) }
        if case .undefined(let hint) = r { throw RuntimeFailure(hint) }
        if let a = l.number, let b = r.number { return try arithmetic(op, a, b) }
        switch (op, l, r) {
        case (.add, .string(let a), .string(let b)):
            try reserveString(a.utf8.count, plus: 1, times: b.utf8.count)
            return .string(a + b)
        case (.add, .list(let a), .list(let b)):
            try reserveList(a.count + b.count)
            return .list(a + b)
        case (.add, .tuple(let a), .tuple(let b)):
            try reserveList(a.count + b.count)
            return .tuple(a + b)
        case (.multiply, .string(let s), _) where r.asInt != nil:
            return .string(try repeated(s, r.asInt!))
        case (.multiply, _, .string(let s)) where l.asInt != nil:
            return .string(try repeated(s, l.asInt!))
        case (.multiply, .list(let a), _) where r.asInt != nil:
            return .list(try repeatedList(a, r.asInt!))
        case (.multiply, _, .list(let a)) where l.asInt != nil:
            return .list(try repeatedList(a, l.asInt!))
        case (.multiply, .tuple(let a), _) where r.asInt != nil:
            return .tuple(try repeatedList(a, r.asInt!))
        case (.multiply, _, .tuple(let a)) where l.asInt != nil:
            return .tuple(try repeatedList(a, l.asInt!))
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

    /// `s * n`, refused before allocating when the result would exceed the string limit.
    private func repeated(_ s: String, _ n: Int) throws -> String {
        if n <= 0 || s.isEmpty { return "" }
        try reserveString(0, plus: n, times: s.utf8.count)
        // Doubling copies: log2(n) block copies instead of n appends of a short string.
        let unit = Array(s.utf8)
        let total = n * unit.count
        return String(unsafeUninitializedCapacity: total) { buffer in
            let base = buffer.baseAddress!
            unit.withUnsafeBufferPointer { base.initialize(from: $0.baseAddress!, count: unit.count) }
            var filled = unit.count
            while filled < total {
                let k = min(filled, total - filled)
                (base + filled).initialize(from: base, count: k)  // disjoint: k <= filled
                filled += k
            }
            return total
        }
    }

    /// `list * n`, refused before allocating when the result would exceed the size limit.
    private func repeatedList(_ a: [TemplateValue], _ n: Int) throws -> [TemplateValue] {
        if n <= 0 || a.isEmpty { return [] }
        let total = a.count.multipliedReportingOverflow(by: n)
        try reserveList(total.overflow ? -1 : total.partialValue)
        var out: [TemplateValue] = []
        out.reserveCapacity(total.partialValue)
        for _ in 0..<n { out.append(contentsOf: a) }
        return out
    }
}
