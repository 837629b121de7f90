/// GGUF `tokenizer.ggml.token_type` values. [llama.cpp include/llama.h llama_token_type]
public enum TokenType: Int, Sendable, CaseIterable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    /// Special tokens such as `<|im_end|>`: split out of text only when special parsing is
    /// requested, and dropped by `decode(_:skipSpecial: true)`.
    case control = 3
    /// Added tokens that are always split out of text and decode to their literal text.
    case userDefined = 4
    /// Padding entries (e.g. Qwen's `[PAD151665]`): never produced by encoding, decode to nothing.
    case unused = 5
    case byte = 6
}
