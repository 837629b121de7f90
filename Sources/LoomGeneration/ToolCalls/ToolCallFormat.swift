/// How a model family writes tool calls, detected from its chat template (or chosen by the
/// caller when detection guesses wrong, e.g. for a fine-tune with a custom template).
///
/// The syntaxes follow the families' own chat templates (the way each template renders an
/// assistant message carrying `tool_calls`) and llama.cpp's parsers in `common/chat.cpp`
/// (`common_chat_parse_llama_3_1`, `common_chat_parse_hermes_2_pro`,
/// `common_chat_parse_mistral_nemo`, `common_chat_parse_generic`).
public enum ToolCallFormat: String, Sendable, CaseIterable, Codable {
    /// Llama 3.1 / 3.2 (`meta-llama/Llama-3.1-8B-Instruct`'s template): the whole reply is one
    /// `{"name": …, "parameters": {…}}` object; built-in tools are called as
    /// `<|python_tag|>brave_search.call(query="…")`.
    case llama3
    /// Qwen2.5 and Hermes 2 Pro / Hermes 3: each call is
    /// `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>`, several per reply.
    case hermes
    /// Mistral (Nemo, v3 tokenizers): `[TOOL_CALLS][{"name": …, "arguments": {…}, "id": "…"}, …]`
    /// with 9-character alphanumeric call ids.
    case mistral
    /// Templates with no tool syntax of their own: a JSON reply holding a call object
    /// `{"name": …, "arguments": {…}}`, an array of them, or `{"tool_calls": […]}`
    /// (llama.cpp's generic format), optionally in a ```` ```json ```` fence.
    case generic

    /// The family whose syntax a chat template uses, from the text the template prints for
    /// tool calls; ``generic`` when it shows none.
    public static func detect(chatTemplate source: String) -> ToolCallFormat {
        if source.contains("<tool_call>") { return .hermes }
        if source.contains("[TOOL_CALLS]") { return .mistral }
        if source.contains("<|python_tag|>")
            || (source.contains("<|start_header_id|>") && source.contains("\"parameters\"")) {
            return .llama3
        }
        return .generic
    }

    /// The key the family puts a call's arguments under.
    var argumentsKey: String { self == .llama3 ? "parameters" : "arguments" }

    /// Text that starts a call anywhere in a reply (a streaming client's text is held back
    /// from where one of these may begin). Control tokens such as `<|python_tag|>` and
    /// `[TOOL_CALLS]` are listed for text decoded with special tokens; generation output
    /// drops them, and then the call is recognised by ``startsAtReplyStart`` instead.
    var markers: [String] {
        switch self {
        case .llama3: return ["<|python_tag|>"]
        case .hermes: return ["<tool_call>"]
        case .mistral: return ["[TOOL_CALLS]"]
        case .generic: return []
        }
    }

    /// Whether a reply whose first non-space character is `first` may be a call (bare JSON
    /// calls are only recognised as the whole reply).
    func startsAtReplyStart(_ first: Character) -> Bool {
        switch self {
        case .llama3: return first == "{"
        case .hermes: return false
        case .mistral: return first == "["
        case .generic: return first == "{" || first == "[" || first == "`"
        }
    }

    /// A fresh call id in the family's style: Mistral's templates refuse ids that are not
    /// 9 characters long, others get OpenAI's `call_…` shape.
    public func makeCallID<G: RandomNumberGenerator>(using generator: inout G) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let count = self == .mistral ? 9 : 24
        let body = String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
        return self == .mistral ? body : "call_" + body
    }

    /// A fresh call id from the system's random source.
    public func makeCallID() -> String {
        var generator = SystemRandomNumberGenerator()
        return makeCallID(using: &generator)
    }
}
