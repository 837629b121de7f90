import LoomJinja

/// Compiles a JSON Schema into a GBNF ``Grammar`` whose sentences are JSON documents valid
/// under the schema, covering the subset of llama.cpp's `json-schema-to-grammar`
/// (`common/json-schema-to-grammar.cpp`, `examples/json_schema_to_grammar.py`):
///
/// - `type` (one or a list): `null`, `boolean`, `integer`, `number`, `string`, `array`, `object`;
/// - objects: `properties`, `required`, `additionalProperties` (`false`; a schema or `true`
///   only without `properties`, as a map). Properties are written in the schema's order with
///   the required ones first (llama.cpp's order); optional ones may be left out;
/// - `enum`, `const`; `anyOf`, `oneOf` (as alternatives: a document valid under two `oneOf`
///   branches is possible, as in llama.cpp); `$ref` to `#/$defs/…` or `#/definitions/…`
///   (recursion allowed);
/// - arrays: `items` (a schema), `prefixItems` (a tuple), `minItems`, `maxItems`;
/// - strings: `minLength`, `maxLength`, `format` `date`, `time`, `date-time`, `uuid`, and
///   `pattern` for regular expressions anchored with `^…$` using literals, `.`, classes,
///   `\d \w \s`, groups, `|` and the quantifiers `* + ? {m,n}`.
///
/// Annotation keywords that do not constrain a document (`title`, `description`, `$schema`,
/// `$id`, `$comment`, `default`, `examples`, `deprecated`, `readOnly`, `writeOnly`) are
/// ignored; any other keyword is a ``JSONSchemaError`` naming it, never silently dropped.
///
/// The grammar allows llama.cpp's whitespace after each value (`space`).
public enum JSONSchemaGrammar {
    /// The grammar of a JSON Schema (parsed JSON).
    public static func grammar(for schema: JSONValue) throws -> Grammar {
        try Grammar(gbnf: gbnf(for: schema))
    }

    /// The grammar of a JSON Schema given as JSON text.
    public static func grammar(forSchemaText text: String) throws -> Grammar {
        let schema: JSONValue
        do {
            schema = try JSONParser.parse(Array(text.utf8))
        } catch {
            throw JSONSchemaError(path: "", "the schema is not valid JSON: \(error)")
        }
        return try grammar(for: schema)
    }

    /// The GBNF text of a JSON Schema.
    public static func gbnf(for schema: JSONValue) throws -> String {
        var compiler = JSONSchemaCompiler(root: schema)
        return try compiler.compile()
    }

    /// Any JSON object: OpenAI's `response_format: {"type": "json_object"}`.
    public static let anyObject: Grammar = {
        var compiler = JSONSchemaCompiler(root: .object([:]))
        // `object` is the primitive's own rule; it cannot fail to compile.
        return try! Grammar(gbnf: compiler.compileAnyObject())
    }()
}

/// A JSON Schema the compiler cannot turn into a grammar, naming the place and keyword.
public struct JSONSchemaError: Error, Equatable, CustomStringConvertible, Sendable {
    /// JSON-pointer-like path of the offending schema (`""` for the root).
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String {
        "JSON schema error at \(path.isEmpty ? "the root" : path): \(message)"
    }
}
