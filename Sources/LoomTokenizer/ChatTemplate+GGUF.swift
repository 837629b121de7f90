import LoomFormats
import LoomJinja

extension ChatTemplate {
    /// The chat template a GGUF file carries in `tokenizer.chat_template`, or in
    /// `tokenizer.chat_template.<name>` for a named variant (e.g. "tool_use"); nil when absent.
    /// - Throws: `TemplateError` when the value is not a string or the template does not parse.
    public init?(gguf: GGUFFile, name: String? = nil) throws {
        let key = name.map { "tokenizer.chat_template.\($0)" } ?? "tokenizer.chat_template"
        guard let value = gguf[key] else { return nil }
        guard let source = value.stringValue else {
            throw TemplateError(.syntax, "GGUF metadata \(key) is not a string (found \(value.type))", line: 0, column: 0)
        }
        try self.init(source: source)
    }
}
