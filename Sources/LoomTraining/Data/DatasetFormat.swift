import LoomJinja

/// The layout of a dataset's records (`--format`, or LLaMA-Factory's `formatting`).
public enum DatasetFormat: String, Sendable, CaseIterable {
    /// `instruction` / `input` / `output`, optional `system` and `history` (LLaMA-Factory's
    /// alpaca format, `data/README.md`).
    case alpaca
    /// `conversations`: [{`from`, `value`}] with roles human/gpt/system/function_call/observation
    /// (LLaMA-Factory's sharegpt format), optional `system` and `tools`.
    case sharegpt
    /// OpenAI's chat shape: `messages`: [{`role`, `content`, `tool_calls`?}], optional `tools`.
    case openai
    /// Raw text for continued pre-training: `text` fields, or the lines of a `.txt` file.
    case text

    /// Guesses the format from the keys of a dataset's first record: `messages` → openai,
    /// `conversations` → sharegpt, `instruction` → alpaca, `text` → text.
    public static func detect(_ object: JSONObject) -> DatasetFormat? {
        if object["messages"] != nil { return .openai }
        if object["conversations"] != nil { return .sharegpt }
        if object["instruction"] != nil { return .alpaca }
        if object["text"] != nil { return .text }
        return nil
    }
}
