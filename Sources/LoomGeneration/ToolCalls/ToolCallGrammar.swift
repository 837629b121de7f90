import LoomJinja

/// The grammar that makes a model call a tool (`tool_choice: "required"` or a named function)
/// in its family's own syntax, with arguments valid under the tool's `parameters` schema.
///
/// Each call object is compiled by ``JSONSchemaGrammar`` from a schema built for it —
/// `{"name": {"const": NAME}, ARGUMENTS_KEY: PARAMETERS}`, one `anyOf` branch per tool —
/// and wrapped in the family's syntax (what llama.cpp's `common/chat.cpp` builds for its
/// grammar-constrained tool calls):
///
/// - ``ToolCallFormat/hermes``: `<tool_call>\n{…}\n</tool_call>`, repeated when parallel calls
///   are allowed;
/// - ``ToolCallFormat/llama3``: one `{"name": …, "parameters": {…}}` (the Llama 3.1 template
///   takes one call per message);
/// - ``ToolCallFormat/mistral``: a JSON array of calls (the `[TOOL_CALLS]` control token
///   cannot be written under a grammar, and the parser does not need it);
/// - ``ToolCallFormat/generic``: one call object, or an array of them when parallel.
public enum ToolCallGrammar {
    /// - Parameters:
    ///   - tools: the tools offered; with `only`, just that one may be called.
    ///   - parallel: whether several calls may be made in one reply (never with `only`).
    /// - Throws: ``ToolCallError`` naming `tools[i].function.parameters…` when a schema uses
    ///   something the JSON-Schema compiler does not support.
    public static func grammar(format: ToolCallFormat, tools: [ToolDefinition], only: String? = nil,
                               parallel: Bool = true) throws -> Grammar {
        // A named function is called once (OpenAI's named `tool_choice` forces "a call to that
        // function"): with repeats allowed a small model repeats the same call until
        // `max_tokens` cuts the reply off mid-call, and nothing parses.
        let parallel = parallel && only == nil
        var branches: [JSONValue] = []
        var definitions = JSONObject()
        for (index, tool) in tools.enumerated() where only == nil || tool.name == only {
            let field = "tools[\(index)].function.parameters"
            // Compiled alone first, so an error names this tool's schema.
            do {
                _ = try JSONSchemaGrammar.gbnf(for: tool.parameters)
            } catch let error as JSONSchemaError {
                throw ToolCallError(field: error.path.isEmpty ? field : "\(field).\(error.path)", error.message)
            }
            var parameters = tool.parameters
            // `$ref`s point at the root's `$defs`: hoist this schema's definitions there.
            if case var .object(members) = parameters {
                for key in ["$defs", "definitions"] {
                    guard case let .object(defs)? = members.removeValue(forKey: key) else { continue }
                    for (name, schema) in defs {
                        if definitions[name] != nil, JSONText.serialize(definitions[name]!) != JSONText.serialize(schema) {
                            throw ToolCallError(field: "\(field).\(key).\(name)", "another tool defines '\(name)' differently; rename one")
                        }
                        definitions[name] = schema
                    }
                }
                parameters = .object(members)
            }
            branches.append(.object([
                "type": .string("object"),
                "properties": .object(["name": .object(["const": .string(tool.name)]), format.argumentsKey: parameters]),
                "required": .array([.string("name"), .string(format.argumentsKey)]),
                "additionalProperties": .bool(false),
            ]))
        }
        guard !branches.isEmpty else {
            throw ToolCallError(field: only == nil ? "tools" : "tool_choice.function.name", "no tool to call")
        }
        var schema: JSONObject = ["anyOf": .array(branches)]
        if branches.count == 1, case let .object(only) = branches[0] { schema = only }
        if !definitions.isEmpty { schema["$defs"] = .object(definitions) }
        let callGBNF: String
        do {
            callGBNF = try JSONSchemaGrammar.gbnf(for: .object(schema))
        } catch let error as JSONSchemaError {
            throw ToolCallError(field: "tools", error.description)
        }
        // The compiled schema's start rule becomes the call rule; nothing refers to `root`.
        let callRule = "loom-tool-call"
        let lines = callGBNF.split(separator: "\n", omittingEmptySubsequences: true).map { line -> String in
            line.hasPrefix("root ::=") ? callRule + " ::=" + line.dropFirst("root ::=".count) : String(line)
        }
        let root: String
        switch format {
        case .hermes:
            let one = #""<tool_call>\n" \#(callRule) "</tool_call>""#
            root = parallel ? "\(one) (\"\\n\" \(one))*" : one
        case .llama3:
            root = callRule
        case .mistral:
            root = parallel ? #""[" \#(callRule) ("," " "? \#(callRule))* "]""# : #""[" \#(callRule) "]""#
        case .generic:
            root = parallel ? #"\#(callRule) | "[" \#(callRule) ("," " "? \#(callRule))* "]""# : callRule
        }
        let text = "root ::= \(root)\n" + lines.joined(separator: "\n") + "\n"
        do {
            return try Grammar(gbnf: text)
        } catch {
            throw ToolCallError(field: "tools", "the tool-call grammar did not compile: \(error)")
        }
    }
}
