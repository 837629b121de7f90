/// Everything a Hugging Face tokenizer directory offers a command-line front end: the
/// tokenizer, the chat template source(s), the special-token texts and the generation defaults.
///
/// ```swift
/// let bundle = try HFTokenizerBundle.load(path: "~/models/Llama-3.1-8B-Instruct")
/// let ids = bundle.tokenizer.encode("Hello")
/// if let template = bundle.chatTemplateSource { … }
/// ```
public struct HFTokenizerBundle: Sendable {
    public let tokenizer: BPETokenizer
    /// The default chat template (Jinja source): tokenizer_config.json's `chat_template`, else
    /// the directory's `chat_template.jinja`; nil when the model has none.
    public let chatTemplateSource: String?
    /// Templates tokenizer_config.json lists by name (e.g. "tool_use"), including "default".
    public let namedChatTemplates: [String: String]
    /// The parsed tokenizer_config.json, if present.
    public let config: HFTokenizerConfig?
    /// The parsed generation_config.json, if present.
    public let generation: HFGenerationConfig?
    /// The BOS token text (tokenizer_config.json's `bos_token`, else the post-processor's
    /// prefix token), as chat templates use it.
    public let bosToken: String?
    /// The EOS token text (tokenizer_config.json's `eos_token`, else the tokenizer's EOS).
    public let eosToken: String?
    /// Ids that end generation: the tokenizer's set plus every eos id of both config files.
    public let endOfGenerationIDs: Set<Int>

    /// Loads a `tokenizer.json` file or a directory holding one (see
    /// `BPETokenizer.init(huggingFace:)` for which companion files are read).
    /// - Throws: `TokenizerError.invalidFile` naming the file, JSON path and problem.
    public static func load(path: String) throws -> HFTokenizerBundle {
        let source = try HFTokenizerSource(path: path)
        let tokenizer = try BPETokenizer(source: source)
        return HFTokenizerBundle(
            tokenizer: tokenizer,
            chatTemplateSource: source.chatTemplate,
            namedChatTemplates: source.config?.namedChatTemplates ?? [:],
            config: source.config,
            generation: source.generation,
            bosToken: source.config?.bosToken ?? tokenizer.bosID.map { tokenizer.piece($0) },
            eosToken: source.config?.eosToken ?? tokenizer.eosID.map { tokenizer.piece($0) },
            endOfGenerationIDs: tokenizer.endOfGenerationIDs.union(source.declaredEndOfGenerationIDs))
    }
}
