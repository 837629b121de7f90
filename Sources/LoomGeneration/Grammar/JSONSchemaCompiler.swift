import LoomJinja

/// The work of ``JSONSchemaGrammar``: visits a schema and collects GBNF rules, after
/// llama.cpp's `SchemaConverter` (`examples/json_schema_to_grammar.py`), with the same
/// primitive rules and object layout.
struct JSONSchemaCompiler {
    private let root: JSONValue
    /// Rules in the order they were added, and their bodies by name.
    private var order: [String] = []
    private var bodies: [String: String] = [:]
    /// Rule names of `$ref` targets already compiled or being compiled (for recursion).
    private var refNames: [String: String] = [:]

    init(root: JSONValue) {
        self.root = root
    }

    /// Keywords that do not constrain a document.
    static let annotations: Set<String> = [
        "title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated",
        "readOnly", "writeOnly", "$defs", "definitions", "strict",
    ]
    /// Keywords the compiler turns into grammar.
    static let supported: Set<String> = [
        "type", "properties", "required", "additionalProperties", "enum", "const", "anyOf", "oneOf", "$ref",
        "items", "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "format", "pattern",
    ]

    /// llama.cpp's primitive rules (`PRIMITIVE_RULES` and `STRING_FORMAT_RULES`), by name,
    /// with the rules each one uses.
    static let primitives: [String: (body: String, uses: [String])] = [
        "space": (#"| " " | "\n"{1,2} [ \t]{0,20}"#, []),
        "boolean": (#"("true" | "false") space"#, ["space"]),
        "decimal-part": ("[0-9]{1,16}", []),
        "integral-part": ("[0] | [1-9] [0-9]{0,15}", []),
        "number": (#"("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space"#,
                   ["integral-part", "decimal-part", "space"]),
        "integer": (#"("-"? integral-part) space"#, ["integral-part", "space"]),
        "value": ("object | array | string | number | boolean | null", ["object", "array", "string", "number", "boolean", "null"]),
        "object": (#""{" space ( string ":" space value ("," space string ":" space value)* )? "}" space"#,
                   ["string", "value", "space"]),
        "array": (#""[" space ( value ("," space value)* )? "]" space"#, ["value", "space"]),
        "uuid": (#""\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\"" space"#,
                 ["space"]),
        "char": (#"[^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})"#, []),
        "string": (#""\"" char* "\"" space"#, ["char", "space"]),
        "null": (#""null" space"#, ["space"]),
        // Stricter than llama.cpp's (any month with day 31): only real dates, as Python's
        // `date.fromisoformat` (used by the `jsonschema` format checker) accepts them — day 31
        // in long months, 29–30 outside February, February 29 in leap years, no year 0000.
        "date": (#"year "-" month-day | leap-year "-02-29""#, ["year", "month-day", "leap-year"]),
        "year": (#"[0-9]{3} [1-9] | [0-9]{2} [1-9] "0" | [0-9] [1-9] "00" | [1-9] "000""#, []),
        "month-day": (#"( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) | ( "0" [13-9] | "1" [0-2] ) "-" ( "29" | "30" ) | ( "0" [13578] | "1" [02] ) "-31""#, []),
        "leap-year": (#"[0-9]{2} ( "0" [48] | [2468] [048] | [13579] [26] ) | ( "0" [48] | [2468] [048] | [13579] [26] ) "00""#, []),
        "time": (#"([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )"#, []),
        "date-time": (#"date "T" time"#, ["date", "time"]),
        "date-string": (#""\"" date "\"" space"#, ["date", "space"]),
        "time-string": (#""\"" time "\"" space"#, ["time", "space"]),
        "date-time-string": (#""\"" date-time "\"" space"#, ["date-time", "space"]),
        // A character of a `pattern` string: no quote, backslash or control character, so
        // that the pattern's own characters need no JSON escaping.
        "pattern-char": (#"[^"\\\x7F\x00-\x1F]"#, []),
    ]

    mutating func compile() throws -> String {
        let body = try visit(root, name: "root", path: "")
        add("root", body)
        return text()
    }

    mutating func compileAnyObject() -> String {
        usePrimitive("object")
        add("root", "object")
        return text()
    }

    private func text() -> String {
        // `root` first for readability; rule order does not matter to GBNF.
        let names = ["root"] + order.filter { $0 != "root" }
        return names.map { "\($0) ::= \(bodies[$0]!)" }.joined(separator: "\n") + "\n"
    }

    // MARK: - Rules

    /// Adds rule `name` (made a valid GBNF name); a different body under a taken name gets a
    /// numbered name. Returns the name used.
    @discardableResult
    private mutating func add(_ name: String, _ body: String) -> String {
        let base = Self.ruleName(name)
        var key = base
        var n = 1
        while let existing = bodies[key], existing != body {
            key = "\(base)\(n)"
            n += 1
        }
        if bodies[key] == nil {
            order.append(key)
        }
        bodies[key] = body
        return key
    }

    private static func ruleName(_ name: String) -> String {
        let mapped = String(name.unicodeScalars.map { c -> Character in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" ? Character(c) : "-"
        })
        return mapped.isEmpty ? "r" : mapped
    }

    private mutating func usePrimitive(_ name: String) {
        guard bodies[name] == nil, let primitive = Self.primitives[name] else { return }
        order.append(name)
        bodies[name] = primitive.body
        for dependency in primitive.uses { usePrimitive(dependency) }
    }

    /// Compiles `schema` into a rule named after `name`; returns the rule's name.
    private mutating func rule(_ schema: JSONValue, name: String, path: String) throws -> String {
        let body = try visit(schema, name: name, path: path)
        return add(name, body)
    }

    // MARK: - Schemas

    /// The GBNF expression of `schema`.
    private mutating func visit(_ schema: JSONValue, name: String, path: String) throws -> String {
        let object: JSONObject
        switch schema {
        case .bool(true):
            usePrimitive("value")
            return "value"
        case .bool(false):
            throw JSONSchemaError(path: path, "the schema `false` accepts no document")
        case .object(let o):
            object = o
        default:
            throw JSONSchemaError(path: path, "a schema must be an object or a boolean, not \(schema.kindDescription)")
        }
        for key in object.keys where !Self.supported.contains(key) && !Self.annotations.contains(key) {
            throw JSONSchemaError(path: path, "unsupported keyword '\(key)'")
        }
        if let ref = object["$ref"] {
            guard object.keys.allSatisfy({ $0 == "$ref" || Self.annotations.contains($0) }) else {
                throw JSONSchemaError(path: path, "'$ref' next to other constraints is not supported")
            }
            return try reference(ref, path: path)
        }
        if let branches = object["anyOf"] ?? object["oneOf"] {
            let keyword = object["anyOf"] != nil ? "anyOf" : "oneOf"
            guard case .array(let list) = branches, !list.isEmpty else {
                throw JSONSchemaError(path: path, "'\(keyword)' must be a non-empty array of schemas")
            }
            guard object.keys.allSatisfy({ $0 == keyword || Self.annotations.contains($0) }) else {
                throw JSONSchemaError(path: path, "'\(keyword)' next to other constraints is not supported")
            }
            return try list.enumerated().map { i, branch in
                try rule(branch, name: "\(name)-\(i)", path: "\(path)/\(keyword)/\(i)")
            }.joined(separator: " | ")
        }
        if let constant = object["const"] {
            usePrimitive("space")
            return "\(Self.literal(Self.serialize(constant))) space"
        }
        if let values = object["enum"] {
            guard case .array(let list) = values, !list.isEmpty else {
                throw JSONSchemaError(path: path, "'enum' must be a non-empty array")
            }
            usePrimitive("space")
            return "(" + list.map { Self.literal(Self.serialize($0)) }.joined(separator: " | ") + ") space"
        }
        let types = try self.types(of: object, path: path)
        if types.count > 1 {
            return try types.map { type in
                var single = object
                single["type"] = .string(type)
                return try rule(.object(single), name: "\(name)-\(type)", path: path)
            }.joined(separator: " | ")
        }
        switch types.first {
        case "object": return try objectRule(object, name: name, path: path)
        case "array": return try arrayRule(object, name: name, path: path)
        case "string": return try stringRule(object, name: name, path: path)
        case "integer", "number", "boolean", "null":
            usePrimitive(types[0])
            return types[0]
        default:
            usePrimitive("value")
            return "value"
        }
    }

    /// The schema's types: its `type` (a name or a list), otherwise inferred from the
    /// keywords of one kind; empty when anything goes.
    private func types(of object: JSONObject, path: String) throws -> [String] {
        let known: Set<String> = ["object", "array", "string", "integer", "number", "boolean", "null"]
        switch object["type"] {
        case .string(let t)?:
            guard known.contains(t) else { throw JSONSchemaError(path: path, "unknown type '\(t)'") }
            return [t]
        case .array(let list)?:
            return try list.map {
                guard case .string(let t) = $0, known.contains(t) else {
                    throw JSONSchemaError(path: path, "'type' lists something that is not a type name")
                }
                return t
            }
        case nil:
            if ["properties", "required", "additionalProperties"].contains(where: { object[$0] != nil }) { return ["object"] }
            if ["items", "prefixItems", "minItems", "maxItems"].contains(where: { object[$0] != nil }) { return ["array"] }
            if ["minLength", "maxLength", "pattern", "format"].contains(where: { object[$0] != nil }) { return ["string"] }
            return []
        default:
            throw JSONSchemaError(path: path, "'type' must be a type name or a list of them")
        }
    }

    private mutating func reference(_ ref: JSONValue, path: String) throws -> String {
        guard case .string(let target) = ref else {
            throw JSONSchemaError(path: path, "'$ref' must be a string")
        }
        if let name = refNames[target] { return name }
        let parts = target.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts[0] == "#", parts[1] == "$defs" || parts[1] == "definitions",
              case .object(let top) = root, case .object(let defs)? = top[parts[1]],
              let resolved = defs[parts[2].replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        else {
            throw JSONSchemaError(path: path, "'$ref' \(target) is not a local #/$defs/NAME or #/definitions/NAME entry")
        }
        // Reserve the name first so a recursive reference inside resolves to it.
        var name = "ref-" + Self.ruleName(parts[2])
        while bodies[name] != nil { name += "-" }
        refNames[target] = name
        order.append(name)
        bodies[name] = ""
        bodies[name] = try visit(resolved, name: name, path: target)
        return name
    }

    // MARK: - Kinds

    private mutating func objectRule(_ object: JSONObject, name: String, path: String) throws -> String {
        var properties: [(String, JSONValue)] = []
        if let value = object["properties"] {
            guard case .object(let map) = value else {
                throw JSONSchemaError(path: path, "'properties' must be an object")
            }
            properties = map.map { ($0.key, $0.value) }
        }
        var required: [String] = []
        if let value = object["required"] {
            guard case .array(let list) = value else { throw JSONSchemaError(path: path, "'required' must be an array") }
            required = try list.map {
                guard case .string(let key) = $0 else { throw JSONSchemaError(path: path, "'required' must list strings") }
                return key
            }
        }
        for key in required where !properties.contains(where: { $0.0 == key }) {
            properties.append((key, .bool(true)))
        }
        let additional = object["additionalProperties"]
        if properties.isEmpty {
            switch additional {
            case .bool(false)?:
                usePrimitive("space")
                return #""{" space "}" space"#
            case nil, .bool(true)?:
                usePrimitive("object")
                return "object"
            case let schema?:
                // A map: string keys, values under the schema.
                let value = try rule(schema, name: "\(name)-additional-value", path: "\(path)/additionalProperties")
                usePrimitive("string")
                let kv = add("\(name)-additional-kv", #"string ":" space "# + value)
                return #""{" space ("# + kv + #" ("," space "# + kv + #")*)? "}" space"#
            }
        }
        // With declared properties, extra ones are never generated: a document without them
        // is valid under any `additionalProperties`.
        usePrimitive("space")
        var kvNames: [String: String] = [:]
        for (key, schema) in properties {
            let value = try rule(schema, name: "\(name)-\(key)", path: "\(path)/properties/\(key)")
            kvNames[key] = add("\(name)-\(key)-kv", "\(Self.literal(Self.serialize(.string(key)))) space \":\" space \(value)")
        }
        let requiredKeys = properties.map { $0.0 }.filter { required.contains($0) }
        let optionalKeys = properties.map { $0.0 }.filter { !required.contains($0) }
        var body = #""{" space "# + requiredKeys.map { kvNames[$0]! }.joined(separator: #" "," space "#)
        if !optionalKeys.isEmpty {
            body += " ("
            if !requiredKeys.isEmpty { body += #" "," space ( "# }
            // llama.cpp's chain: any suffix of the optional keys in order, each optional.
            func chain(_ keys: ArraySlice<String>, firstOptional: Bool) -> String {
                let kv = kvNames[keys.first!]!
                var result = firstOptional ? #"( "," space "# + kv + " )?" : kv
                if keys.count > 1 {
                    result += " " + add("\(name)-\(keys.first!)-rest", chain(keys.dropFirst(), firstOptional: true))
                }
                return result
            }
            body += optionalKeys.indices.map { chain(optionalKeys[$0...], firstOptional: false) }.joined(separator: " | ")
            if !requiredKeys.isEmpty { body += " )" }
            body += " )?"
        }
        return body + #" "}" space"#
    }

    private mutating func arrayRule(_ object: JSONObject, name: String, path: String) throws -> String {
        usePrimitive("space")
        if let prefix = object["prefixItems"] {
            guard case .array(let list) = prefix else { throw JSONSchemaError(path: path, "'prefixItems' must be an array") }
            if let items = object["items"], !Self.isFalse(items) {
                throw JSONSchemaError(path: path, "'items' after 'prefixItems' is only supported as false")
            }
            let parts = try list.enumerated().map { i, item in
                try rule(item, name: "\(name)-tuple-\(i)", path: "\(path)/prefixItems/\(i)")
            }
            return #""[" space "# + parts.joined(separator: #" "," space "#) + #" "]" space"#
        }
        let item = try rule(object["items"] ?? .bool(true), name: "\(name)-item", path: "\(path)/items")
        let low = try count(object, "minItems", path: path) ?? 0
        let high = try count(object, "maxItems", path: path)
        if let high, high < low { throw JSONSchemaError(path: path, "'maxItems' is below 'minItems'") }
        return #""[" space "# + Self.repetition(item, min: low, max: high, separator: #""," space"#) + #" "]" space"#
    }

    private mutating func stringRule(_ object: JSONObject, name: String, path: String) throws -> String {
        let low = try count(object, "minLength", path: path)
        let high = try count(object, "maxLength", path: path)
        if let pattern = object["pattern"] {
            guard case .string(let regex) = pattern else { throw JSONSchemaError(path: path, "'pattern' must be a string") }
            guard low == nil, high == nil, object["format"] == nil else {
                throw JSONSchemaError(path: path, "'pattern' together with 'minLength', 'maxLength' or 'format' is not supported")
            }
            usePrimitive("pattern-char")
            usePrimitive("space")
            var translator = PatternTranslator(regex, path: path)
            let body = try translator.translate()
            return #""\"" ("# + body + #") "\"" space"#
        }
        if case .string(let format)? = object["format"] {
            let known = ["date": "date-string", "time": "time-string", "date-time": "date-time-string", "uuid": "uuid"]
            if let rule = known[format] {
                guard low == nil, high == nil else {
                    throw JSONSchemaError(path: path, "'format' \(format) together with a length limit is not supported")
                }
                usePrimitive(rule)
                return rule
            }
            // Other formats are annotations in JSON Schema 2020-12 (validators do not check
            // them unless asked): such a string is any string.
        }
        if low == nil && high == nil {
            usePrimitive("string")
            return "string"
        }
        if let high, let low, high < low { throw JSONSchemaError(path: path, "'maxLength' is below 'minLength'") }
        usePrimitive("char")
        usePrimitive("space")
        return #""\"" "# + Self.repetition("char", min: low ?? 0, max: high, separator: nil) + #" "\"" space"#
    }

    private func count(_ object: JSONObject, _ key: String, path: String) throws -> Int? {
        guard let value = object[key] else { return nil }
        switch value {
        case .integer(let n) where n >= 0 && n <= 10_000: return n
        case .number(let d) where d >= 0 && d <= 10_000 && d == d.rounded(): return Int(d)
        default: throw JSONSchemaError(path: path, "'\(key)' must be an integer in 0...10000")
        }
    }

    /// llama.cpp's `_build_repetition`: `item` repeated `min`...`max` times with `separator`
    /// between the copies.
    static func repetition(_ item: String, min: Int, max: Int?, separator: String?) -> String {
        if max == 0 { return "" }
        if min == 0 && max == 1 { return "\(item)?" }
        guard let separator else {
            if let max { return min == max ? "\(item){\(min)}" : "\(item){\(min),\(max)}" }
            return "\(item){\(min),}"
        }
        let rest = repetition("(\(separator) \(item))", min: Swift.max(min - 1, 0), max: max.map { $0 - 1 }, separator: nil)
        let result = rest.isEmpty ? item : "\(item) \(rest)"
        return min > 0 ? result : "(\(result))?"
    }

    private static func isFalse(_ value: JSONValue) -> Bool {
        if case .bool(false) = value { return true }
        return false
    }

    // MARK: - Literals

    /// A GBNF string literal matching `text` exactly.
    static func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + String(format2: scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// JSON text of a value with Python's `json.dumps` separators (`", "`, `": "`), as
    /// llama.cpp writes `const` and `enum` values; keys in document order.
    static func serialize(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let n): return String(n)
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += "\\u00" + String(format2: scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        case .array(let items): return "[" + items.map(serialize).joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.map { serialize(.string($0.key)) + ": " + serialize($0.value) }.joined(separator: ", ") + "}"
        }
    }
}

extension String {
    /// Two lowercase hex digits of a small value.
    init(format2 value: UInt32) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(value >> 4 & 0xF)], digits[Int(value & 0xF)]])
    }
}
