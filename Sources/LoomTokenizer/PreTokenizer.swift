/// The pre-tokenizer a byte-level BPE model declares in `tokenizer.ggml.pre`: how raw text is cut
/// into words before BPE merging. Each case is a hand-written scanner equivalent to the model's
/// regular expression (see `PreTokenizerScanner`). [llama.cpp src/llama-vocab.cpp, `llm_tokenizer_bpe`]
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// StarCoder/SmolLM: every `\p{N}` scalar split off on its own, then the GPT-2 expression.
    case smollm
    /// Qwen2: the Llama 3 expression with single digits (`\p{N}` instead of `\p{N}{1,3}`);
    /// text is NFC-normalised first, as in Qwen's own tokenizers.
    case qwen2
    /// Llama 3 ("llama-bpe"): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`; whole-word vocabulary hits skip merging.
    case llama3

    /// Maps a `tokenizer.ggml.pre` value to a pre-tokenizer. Names that llama.cpp gives the
    /// very same expression are accepted as aliases (e.g. "starcoder" for smollm).
    /// - Throws: `TokenizerError.unknownPreTokenizer` naming the value.
    public init(ggufName: String) throws {
        switch ggufName {
        case "gpt-2", "gpt2", "mpt", "olmo", "jais":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva":
            self = .smollm
        case "qwen2", "stablelm2", "deepseek-r1-qwen", "megrez":
            self = .qwen2
        case "llama-bpe", "llama3", "llama-v3", "dbrx", "smaug-bpe":
            self = .llama3
        default:
            throw TokenizerError.unknownPreTokenizer(ggufName)
        }
    }

    /// Whether a word that is itself a vocabulary entry is emitted without merging
    /// (HF `ignore_merges`, set for Llama 3 by llama.cpp and by Meta's tokenizer.json).
    public var ignoresMergesByDefault: Bool { self == .llama3 }

    /// Whether text is NFC-normalised before pre-tokenization. Qwen2's tokenizer.json has an
    /// NFC normalizer and Qwen's tiktoken wrapper calls `unicodedata.normalize("NFC", …)`.
    /// (llama.cpp does not normalise; the two differ only on text that is not already NFC.)
    public var normalizesNFCByDefault: Bool { self == .qwen2 }

    /// llama.cpp's default for `add_bos` when the GGUF has no `tokenizer.ggml.add_bos_token`.
    public var addsBOSByDefault: Bool { self == .llama3 }
}
