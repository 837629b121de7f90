import Foundation
import LoomJinja
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
    private let template: ChatTemplate

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
        do {
            template = try ChatTemplate(source: templateSource)
        } catch {
            throw ChatError.templateFailed("\(error)")
        }
    }

    /// Renders `messages` (and `tools`, a JSON array of tool definitions) to prompt text.
    /// With `addGenerationPrompt` the text ends where the assistant's answer begins.
    /// - Throws: ``ChatError/templateFailed(_:)`` naming the template line and column (or the
    ///   template's own `raise_exception` message), ``ChatError/invalidConversation(_:)`` for
    ///   tools that are not a JSON array.
    public func render(_ messages: [ChatMessage], tools: Data? = nil, addGenerationPrompt: Bool = true) throws -> String {
        var toolValues: [JinjaValue]?
        if let tools {
            guard case let .array(list)? = try? JinjaValue(jsonData: tools) else {
                throw ChatError.invalidConversation("tools must be a JSON array of tool definitions")
            }
            toolValues = list
        }
        do {
            return try template.render(messages: messages.map(\.jinjaValue), tools: toolValues,
                                       addGenerationPrompt: addGenerationPrompt,
                                       bosToken: bosToken, eosToken: eosToken, date: date)
        } catch {
            throw ChatError.templateFailed("\(error)")
        }
    }
}
