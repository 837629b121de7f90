/// A fixed chat prompt format chosen from the model's template text.
///
/// A stop-gap until the Jinja interpreter runs each model's own template: it recognises the
/// two families Loom's models use (ChatML, Llama 3 headers) and the default system prompt a
/// ChatML template inserts when the conversation has none.
public struct BuiltinChatFormat: Sendable, Equatable {
    public enum Style: Sendable, Equatable {
        /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen2).
        case chatML
        /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (Llama 3).
        case llama3
    }

    public let style: Style
    /// The system prompt the template adds when the conversation has none.
    public let defaultSystemPrompt: String?

    /// Picks the format for a model's chat template (ChatML when there is none).
    public init(template: String?) {
        let template = template ?? ""
        if template.contains("<|start_header_id|>") {
            style = .llama3
            defaultSystemPrompt = nil
        } else {
            style = .chatML
            defaultSystemPrompt = Self.embeddedSystemPrompt(in: template)
        }
    }

    /// The literal default system message of a ChatML template, if it has one: either the
    /// text inside a literal `<|im_start|>system` block (SmolLM2), or the first quoted
    /// literal that starts with "You are" (Qwen2.5's `else` branch).
    static func embeddedSystemPrompt(in template: String) -> String? {
        for marker in ["<|im_start|>system\n", "<|im_start|>system\\n"] {
            guard let start = template.range(of: marker),
                  let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex)
            else { continue }
            let text = String(template[start.upperBound..<end.lowerBound])
            if !text.contains("{{"), !text.contains("'"), !text.contains("\"") { return unescape(text) }
        }
        for quote in ["'", "\""] {
            if let start = template.range(of: quote + "You are"),
               let end = template.range(of: quote, range: template.index(after: start.lowerBound)..<template.endIndex) {
                return unescape(String(template[template.index(after: start.lowerBound)..<end.lowerBound]))
            }
        }
        return nil
    }

    private static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\n", with: "\n")
    }

    /// The prompt for one user message (and an optional system message), ending where the
    /// assistant's answer begins.
    public func prompt(user: String, system: String? = nil, bosToken: String? = nil) -> String {
        let system = system ?? defaultSystemPrompt
        switch style {
        case .chatML:
            var s = ""
            if let system { s += "<|im_start|>system\n\(system)<|im_end|>\n" }
            return s + "<|im_start|>user\n\(user)<|im_end|>\n<|im_start|>assistant\n"
        case .llama3:
            var s = bosToken ?? ""
            if let system { s += "<|start_header_id|>system<|end_header_id|>\n\n\(system)<|eot_id|>" }
            return s + "<|start_header_id|>user<|end_header_id|>\n\n\(user)<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        }
    }

    /// A whole conversation in this format.
    func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String) -> String {
        var s = style == .llama3 ? bosToken : ""
        var messages = messages
        if messages.first?.role != "system", let defaultSystemPrompt { messages.insert(.system(defaultSystemPrompt), at: 0) }
        for m in messages {
            switch style {
            case .chatML: s += "<|im_start|>\(m.role)\n\(m.content ?? "")<|im_end|>\n"
            case .llama3: s += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(m.content ?? "")<|eot_id|>"
            }
        }
        if addGenerationPrompt {
            s += style == .chatML ? "<|im_start|>assistant\n" : "<|start_header_id|>assistant<|end_header_id|>\n\n"
        }
        return s
    }
}
