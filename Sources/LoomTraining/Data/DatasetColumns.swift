/// Which record fields (and, for sharegpt, which role tags) hold each part of an example:
/// LLaMA-Factory's `columns` and `tags` of a `dataset_info.json` entry
/// (`data/README.md`, `src/llamafactory/data/parser.py` `DatasetAttr`), with its defaults.
public struct DatasetColumns: Sendable, Equatable {
    // alpaca
    public var prompt = "instruction"
    public var query = "input"
    public var response = "output"
    public var history = "history"
    // sharegpt / openai
    public var messages = "conversations"
    public var tools = "tools"
    // both
    public var system = "system"
    /// Text corpora (LLaMA-Factory's pre-training `columns: {prompt: text}`).
    public var text = "text"

    // sharegpt tags
    public var roleTag = "from"
    public var contentTag = "value"
    public var userTag = "human"
    public var assistantTag = "gpt"
    public var observationTag = "observation"
    public var functionTag = "function_call"
    public var systemTag = "system"

    public init() {}

    /// The defaults of `format`: LLaMA-Factory's for alpaca/sharegpt; for openai, the sharegpt
    /// entry LLaMA-Factory's README gives for OpenAI-style data (`messages`, tags
    /// role/content/user/assistant/system, observations as `tool`).
    public static func defaults(for format: DatasetFormat) -> DatasetColumns {
        var columns = DatasetColumns()
        switch format {
        case .openai:
            columns.messages = "messages"
            columns.roleTag = "role"
            columns.contentTag = "content"
            columns.userTag = "user"
            columns.assistantTag = "assistant"
            columns.observationTag = "tool"
            columns.systemTag = "system"
        case .text:
            columns.text = "text"
        case .alpaca, .sharegpt:
            break
        }
        return columns
    }
}
