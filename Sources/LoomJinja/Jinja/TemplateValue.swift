import OrderedCollections

/// A Python `dict` during rendering: string keys in insertion order (jinja2 iterates, prints
/// and `tojson`s dicts in that order); assigning to an existing key keeps its position.
typealias TemplateDictionary = OrderedDictionary<String, TemplateValue>

/// A value during rendering, modelled on the Python objects jinja2 would see.
///
/// Not `Sendable`: namespaces are shared mutable objects, and values never leave one render.
enum TemplateValue {
    /// jinja2 `Undefined`; the hint is the message raised when the value is used in a way
    /// Undefined does not allow (arithmetic, attribute access, calling).
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([TemplateValue])
    case tuple([TemplateValue])
    case dict(TemplateDictionary)
    case namespace(TemplateNamespace)
    case macro(TemplateMacro)
    case builtin(BuiltinFunction)
    case loop(TemplateLoop)
    /// A method looked up on a receiver (`"a b".split`, `d.items`), called later.
    indirect case method(TemplateValue, String)

    /// Global functions of Hugging Face's chat-template environment.
    enum BuiltinFunction: String {
        case range, dict, namespace
        case raiseException = "raise_exception"
        case strftimeNow = "strftime_now"
    }

    static func undefinedName(_ name: String) -> TemplateValue { .undefined(hint: "'\(name)' is undefined") }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .float(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .macro, .builtin, .loop, .method: return true
        }
    }

    /// Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .macro: return "Macro"
        case .builtin: return "builtin_function_or_method"
        case .loop: return "LoopContext"
        case .method: return "builtin_function_or_method"
        }
    }

    /// Numeric view (bool is an int in Python).
    enum Number { case int(Int), float(Double) }

    var number: Number? {
        switch self {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .float(let d): return .float(d)
        default: return nil
        }
    }

    var asDouble: Double? {
        switch number {
        case .int(let i): return Double(i)
        case .float(let d): return d
        case nil: return nil
        }
    }

    /// Exact integer (int or bool).
    var asInt: Int? {
        if case .int(let i) = number { return i }
        return nil
    }

    var asString: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Items of a list or tuple.
    var sequenceItems: [TemplateValue]? {
        switch self {
        case .list(let a), .tuple(let a): return a
        default: return nil
        }
    }
}
