import Foundation
import LoomGeneration
import LoomTokenizer

/// The bodies of the generation endpoints decoded and checked without a model: bytes in, a
/// typed request or an ``APIError`` (a 400 naming the field) out. Pure — no model, tokenizer,
/// template or network — so the handlers, tests and fuzz harnesses share one decoding path.
/// What needs the model (the model name, the chat template, tokenizing, context length)
/// is checked by the handlers afterwards.
///
/// Every error thrown is an ``APIError``; anything else would be a bug.
public enum APIRequestDecoder {
    /// A `/v1/chat/completions` body.
    /// - Parameter vocabularySize: token ids (in `logit_bias`) must be below it.
    /// Fields only a chat request reads.
    static let chatFields: Set<String> = ["messages", "tools", "tool_choice", "parallel_tool_calls", "top_logprobs"]
    /// Fields only a text-completion request reads (`best_of` and `suffix` are refused by
    /// name unless harmless).
    static let completionFields: Set<String> = ["prompt", "echo", "best_of", "suffix"]
    /// Message roles a chat request may use.
    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function", "ipython"]

    /// - Parameter generationDefaults: the model's `generation_config.json`, whose sampling
    ///   values apply to fields the request leaves out.
    public static func chatCompletion(_ body: Data, vocabularySize: Int,
                                      generationDefaults: HFGenerationConfig? = nil) throws -> ChatCompletionRequest {
        let fields = try JSONFields(body: body)
        try fields.refuseUnknown(GenerationRequest.knownFields.union(chatFields), endpoint: "/v1/chat/completions")
        let model = try fields.string("model")
        guard fields.has("messages") else { throw APIError.invalid("messages", "is required") }
        guard fields.raw("messages") is [Any] else {
            throw APIError.invalid("messages", "expected an array of messages, got \(JSONFields.describe(fields.raw("messages")!))")
        }
        let messages: [ChatMessage]
        do {
            messages = try ChatMessage.conversation(fromJSON: body)
        } catch {
            throw APIError.invalid("messages", "\(error)")
        }
        guard !messages.isEmpty else { throw APIError.invalid("messages", "must contain at least one message") }
        // OpenAI's roles (and Llama 3.1's `ipython` for tool results); any other would be
        // rendered into the prompt as-is, as text the model was never trained on.
        if let (i, bad) = messages.enumerated().first(where: { !Self.roles.contains($0.element.role) }).map({ ($0.offset, $0.element) }) {
            throw APIError.invalid("messages[\(i)].role", "must be one of \(Self.roles.sorted().joined(separator: ", ")), got \"\(bad.role)\"")
        }
        let tools: [ToolDefinition]
        let toolChoice: ToolChoice
        do {
            tools = try fields.value("tools").map(ToolDefinition.list(from:)) ?? []
            toolChoice = try ToolChoice.parse(fields.value("tool_choice"), tools: tools)
        } catch let error as ToolCallError {
            throw APIError.invalid(error.field, error.message)
        }
        let parallel = try fields.bool("parallel_tool_calls") ?? true
        // The default answer length depends on the rendered prompt; the handler sets it.
        let generation = try GenerationRequest(fields, vocabularySize: vocabularySize, defaultMaxTokens: 0, chatLogprobs: true,
                                               generationDefaults: generationDefaults)
        if generation.options.grammar != nil, toolChoice != .auto, toolChoice != .none {
            throw APIError.invalid("tool_choice", "a required or named tool call is enforced by its own grammar and cannot be combined with response_format, grammar or json_schema")
        }
        return ChatCompletionRequest(model: model, messages: messages, tools: tools, toolChoice: toolChoice,
                                     parallelToolCalls: parallel, generation: generation)
    }

    /// A `/v1/completions` body.
    /// - Parameter vocabularySize: token ids (prompts given as ids, `logit_bias`) must be below it.
    public static func completion(_ body: Data, vocabularySize: Int,
                                  generationDefaults: HFGenerationConfig? = nil) throws -> CompletionRequest {
        let fields = try JSONFields(body: body)
        try fields.refuseUnknown(GenerationRequest.knownFields.union(completionFields), endpoint: "/v1/completions")
        let model = try fields.string("model")
        let prompts = try parsePrompts(fields, vocabularySize: vocabularySize)
        let generation = try GenerationRequest(fields, vocabularySize: vocabularySize, defaultMaxTokens: 16, chatLogprobs: false,
                                               generationDefaults: generationDefaults)
        let echo = try fields.bool("echo") ?? false
        return CompletionRequest(model: model, prompts: prompts, echo: echo, generation: generation)
    }

    /// `prompt` (or `key`): a string, an array of strings, an array of token ids or an array
    /// of arrays of ids.
    static func parsePrompts(_ fields: JSONFields, key: String = "prompt", vocabularySize: Int) throws -> [PromptInput] {
        guard let raw = fields.raw(key) else { throw APIError.invalid(key, "is required") }
        func tokens(_ array: [Any], field: String) throws -> PromptInput {
            .tokens(try array.enumerated().map { i, item -> Int in
                guard let id = JSONFields.integer(item) else {
                    throw APIError.invalid("\(field)[\(i)]", "expected a token id, got \(JSONFields.describe(item))")
                }
                guard id >= 0, id < vocabularySize else {
                    throw APIError.invalid("\(field)[\(i)]", "token id \(id) is outside the vocabulary (0..<\(vocabularySize))")
                }
                return id
            })
        }
        if let s = raw as? String { return [.text(s)] }
        guard let array = raw as? [Any] else {
            throw APIError.invalid(key, "expected a string, an array of strings or an array of token ids, got \(JSONFields.describe(raw))")
        }
        guard !array.isEmpty else { throw APIError.invalid(key, "must not be empty") }
        if array.allSatisfy({ $0 is String }) { return array.map { .text($0 as! String) } }
        if array.allSatisfy({ $0 is [Any] }) {
            return try array.enumerated().map { i, item in try tokens(item as! [Any], field: "\(key)[\(i)]") }
        }
        return [try tokens(array, field: key)]
    }
}

/// A decoded `/v1/chat/completions` request (see ``APIRequestDecoder/chatCompletion(_:vocabularySize:)``).
public struct ChatCompletionRequest {
    /// The `model` asked for, if any.
    public let model: String?
    public let messages: [ChatMessage]
    /// The `tools`, checked (empty when none were given).
    public let tools: [ToolDefinition]
    /// `tool_choice` (`auto` when tools were given without it, `none` without tools).
    public let toolChoice: ToolChoice
    /// `parallel_tool_calls` (default true): false allows at most one call per reply.
    public let parallelToolCalls: Bool

    /// Whether the chat template is given the tools and the reply is parsed for calls.
    public var usesTools: Bool { !tools.isEmpty && toolChoice != .none }

    /// Whether the reply must be a call (a grammar enforces it).
    public var requiresCall: Bool {
        switch toolChoice {
        case .required, .function: return true
        case .none, .auto: return false
        }
    }
    /// Sampling, length, streaming and logprob settings. Its `maxTokens` is 0 when the
    /// request gave none (``GenerationRequest/requestedMaxTokens`` is nil then).
    public var generation: GenerationRequest
}

/// A decoded `/v1/completions` request (see ``APIRequestDecoder/completion(_:vocabularySize:)``).
public struct CompletionRequest {
    /// The `model` asked for, if any.
    public let model: String?
    public let prompts: [PromptInput]
    /// `echo`: repeat the prompt in the answer.
    public let echo: Bool
    public var generation: GenerationRequest
}

/// One prompt of a completion request, before tokenizing.
public enum PromptInput: Equatable, Sendable {
    case text(String)
    /// Token ids, each checked to be in the vocabulary.
    case tokens([Int])
}
