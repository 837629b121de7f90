import Foundation

/// A Hugging Face chat template (the Jinja `tokenizer.chat_template`), parsed once and rendered
/// many times with the same output as transformers' `apply_chat_template(tokenize=False)`:
/// jinja2's `ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with the
/// loop-controls extension and HF's `tojson`, `raise_exception` and `strftime_now`.
public struct ChatTemplate: Sendable {
    private let statements: [TemplateStatement]
    /// The template text as given.
    public let source: String
    /// What one render may do (output and string size, allocation, steps, value nesting);
    /// exceeding a limit is a `.runtime` ``TemplateError`` naming the line.
    public var limits: TemplateLimits

    /// Parses `source`; throws a `TemplateError` of kind `.syntax` naming the line and column.
    /// Parsing is bounded by itself (nesting of 64 levels, operator chains of 256), whatever the text.
    public init(source: String, limits: TemplateLimits = .standard) throws {
        self.source = source
        self.limits = limits
        statements = try TemplateParser.parse(try TemplateLexer.tokenize(source))
    }

    /// Renders a conversation.
    ///
    /// - Parameters:
    ///   - messages: the `messages` variable, typically objects with `role`, `content`, and
    ///     optionally `tool_calls`, `tool_call_id`, `name`.
    ///   - tools: the `tools` variable (JSON schemas); nil renders as Python `None`, as
    ///     transformers passes it.
    ///   - addGenerationPrompt: the `add_generation_prompt` variable.
    ///   - extra: further variables (e.g. `date_string`, `builtin_tools`, `custom_tools`,
    ///     `tools_in_user_message`); they override the named parameters on conflict.
    ///   - bosToken / eosToken: `bos_token` / `eos_token`.
    ///   - date: the time `strftime_now` formats (in `timeZone`); nil means now.
    ///   - timeZone: time zone of `strftime_now` (Python's `datetime.now()` uses local time).
    /// - Throws: `TemplateError` (`.raised` for `raise_exception`, `.runtime` otherwise).
    public func render(messages: [JinjaValue], tools: [JinjaValue]? = nil, addGenerationPrompt: Bool,
                       extra: [String: JinjaValue] = [:], bosToken: String = "", eosToken: String = "",
                       date: Date? = nil, timeZone: TimeZone = .current) throws -> String {
        var context: [String: JinjaValue] = [
            "messages": .array(messages),
            "tools": tools.map { .array($0) } ?? .null,
            "documents": .null,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        for (k, v) in extra { context[k] = v }
        return try render(context: context, date: date, timeZone: timeZone)
    }

    /// Renders with exactly the given top-level variables (no chat-specific defaults).
    public func render(context: [String: JinjaValue], date: Date? = nil, timeZone: TimeZone = .current) throws -> String {
        var globals: [String: TemplateValue] = [:]
        globals.reserveCapacity(context.count + 5)
        for (k, v) in context { globals[k] = v.templateValue }
        let interpreter = TemplateInterpreter(globals: globals, now: date ?? Date(), timeZone: timeZone, limits: limits)
        return try interpreter.render(statements)
    }
}
