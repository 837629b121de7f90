/// Why a tokenizer could not be built. Every case names the offending key, index or value so
/// that a broken GGUF file can be diagnosed from the message alone.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required metadata key is absent.
    case missingKey(String)
    /// A metadata key holds a value of the wrong type or an impossible value.
    case invalidValue(key: String, reason: String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer this library does not implement.
    case unknownPreTokenizer(String)
    /// `tokenizer.ggml.model` names a tokenizer family other than byte-level BPE ("gpt2").
    case unsupportedModel(String)
    /// A Hugging Face file (`tokenizer.json`, `tokenizer_config.json`, …) is unreadable, malformed
    /// or uses a feature this library does not implement; `path` is the JSON path of the
    /// offending value (e.g. `model.merges[12]`), empty when the whole file is at fault.
    case invalidFile(file: String, path: String, reason: String)

    public var description: String {
        switch self {
        case .missingKey(let key):
            return "tokenizer metadata key '\(key)' is missing"
        case .invalidValue(let key, let reason):
            return "tokenizer metadata '\(key)': \(reason)"
        case .unknownPreTokenizer(let name):
            return "unknown pre-tokenizer '\(name)' (tokenizer.ggml.pre); supported: gpt-2, smollm, qwen2, llama-bpe and their aliases"
        case .unsupportedModel(let name):
            return "tokenizer.ggml.model '\(name)' is not supported; only byte-level BPE ('gpt2') is"
        case .invalidFile(let file, let path, let reason):
            return path.isEmpty ? "\(file): \(reason)" : "\(file): \(path): \(reason)"
        }
    }
}
