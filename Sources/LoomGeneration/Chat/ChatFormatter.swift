import Foundation
import LoomModels
import LoomTokenizer

/// Turns a conversation into the prompt text a model was trained on, by running the
/// model's own chat template (or one given by the user).
///
/// ```swift
/// let formatter = try ChatFormatter(model: model)
/// let prompt = try formatter.render([.user("Hi")], addGenerationPrompt: true)
/// let ids = model.tokenizer.encode(prompt, addSpecial: false)
/// ```
public struct ChatFormatter: Sendable {
    /// The template's source text.
    public let templateSource: String
    /// `bos_token` / `eos_token` as the template sees them.
    public let bosToken: String
    public let eosToken: String
    /// The date `strftime_now` prints (nil = today).
    public var date: Date?
    private let builtin: BuiltinChatFormat

    /// Uses `template` if given, else the model's own.
    /// - Throws: ``ChatError/noTemplate(model:)`` when there is neither,
    ///   ``ChatError/templateFailed(_:)`` when the template does not parse.
    public init(model: LanguageModel, template: String? = nil, date: Date? = nil) throws {
        guard let source = template ?? model.chatTemplate else {
            throw ChatError.noTemplate(model: (model.path as NSString).lastPathComponent)
        }
        let tokenizer = model.tokenizer
        try self.init(templateSource: source,
                      bosToken: tokenizer.bosID.map { tokenizer.piece($0) } ?? "",
                      eosToken: tokenizer.eosID.map { tokenizer.piece($0) } ?? "",
                      date: date)
    }

    public init(templateSource: String, bosToken: String, eosToken: String, date: Date? = nil) throws {
        self.templateSource = templateSource
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.date = date
        builtin = BuiltinChatFormat(template: templateSource)
    }

    /// Renders `messages` (and `tools`, a JSON array of tool definitions) to prompt text.
    /// With `addGenerationPrompt` the text ends where the assistant's answer begins.
    public func render(_ messages: [ChatMessage], tools: Data? = nil, addGenerationPrompt: Bool = true) throws -> String {
        builtin.render(messages, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken)
    }
}
