/// jinja2's built-in tests (`x is defined`, `x is string`, …).
extension TemplateInterpreter {
    func applyTest(_ name: String, _ value: TemplateValue, _ args: Arguments) throws -> Bool {
        func operand() throws -> TemplateValue {
            guard let v = args.value(0, "other") ?? args.value(0, "value") ?? args.value(0, "seq") ?? args.value(0, "num") else {
                throw RuntimeFailure("test '\(name)' requires an argument")
            }
            return v
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true } else { return false }
        case "string": return value.asString != nil
        case "number":
            switch value { case .int, .float, .bool: return true; default: return false }
        case "integer":
            if case .int = value { return true } else { return false }
        case "float":
            if case .float = value { return true } else { return false }
        case "boolean":
            if case .bool = value { return true } else { return false }
        case "true":
            if case .bool(true) = value { return true } else { return false }
        case "false":
            if case .bool(false) = value { return true } else { return false }
        case "mapping":
            if case .dict = value { return true } else { return false }
        case "iterable":
            switch value { case .list, .tuple, .dict, .string, .undefined: return true; default: return false }
        case "sequence":
            switch value { case .list, .tuple, .dict, .string, .undefined: return true; default: return false }
        case "callable":
            switch value { case .macro, .builtin, .method: return true; default: return false }
        case "odd", "even":
            // jinja2: value % 2 == 1 / value % 2 == 0, so floats work too.
            let remainder = try binary(.modulo, value, .int(2))
            return try equal(remainder, .int(name == "odd" ? 1 : 0))
        case "divisibleby":
            guard let i = value.asInt, let d = try operand().asInt, d != 0 else { throw RuntimeFailure("divisibleby requires non-zero integers") }
            return d == -1 || i % d == 0  // Int.min % -1 would trap
        case "equalto", "eq", "==":
            return try equal(value, try operand())
        case "sameas":
            // Python `is`: None/True/False are singletons; other values approximate identity by
            // type and equality (CPython shares small ints and interned strings).
            let other = try operand()
            return try value.typeName == other.typeName && equal(value, other)
        case "ne", "!=":
            return !(try equal(value, try operand()))
        case "lt", "<", "lessthan":
            return try less(value, try operand())
        case "le", "<=":
            let o = try operand()
            return try less(value, o) || equal(value, o)
        case "gt", ">", "greaterthan":
            return try less(try operand(), value)
        case "ge", ">=":
            let o = try operand()
            return try less(o, value) || equal(value, o)
        case "in":
            return try contains(try operand(), value)
        case "lower", "upper":
            // str.islower() / str.isupper(): at least one cased character, none of the other case.
            let s = try str(value)
            let m = try mapped(s, name == "lower" ? PythonText.lower : PythonText.upper)
            return s.unicodeScalars.contains(where: PythonText.isCased) && PythonText.equal(m, s)
        default:
            throw RuntimeFailure("unknown test '\(name)'")
        }
    }
}
