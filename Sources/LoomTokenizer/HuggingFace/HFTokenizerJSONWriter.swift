import Foundation
import LoomFormats

/// Writes a GGUF model's tokenizer as a Hugging Face `tokenizer.json`, the way HF publishes
/// these models: normal, control and user-defined tokens in `model.vocab`; control tokens as
/// special added tokens, user-defined ones as non-special added tokens; merges as pairs; and
/// the model's own normalizer and pre-tokenizer (SmolLM: Digits + ByteLevel; Qwen2: NFC +
/// Split + ByteLevel; Llama 3: Split + ByteLevel with `ignore_merges`; GPT-2: ByteLevel).
/// A BOS the GGUF adds becomes a `TemplateProcessing` post-processor.
public enum HFTokenizerJSONWriter {
    /// The `tokenizer.json` bytes for the tokenizer in `gguf`.
    /// - Throws: `TokenizerError` for a missing vocabulary or an unsupported pre-tokenizer.
    public static func tokenizerJSON(gguf: GGUFFile) throws -> Data {
        let tokenizer = try BPETokenizer(gguf: gguf)
        guard let tokens = gguf["tokenizer.ggml.tokens"]?.stringArray,
              let ggufMerges = gguf["tokenizer.ggml.merges"]?.stringArray else {
            throw TokenizerError.missingKey("tokenizer.ggml.tokens / tokenizer.ggml.merges")
        }
        let types = gguf["tokenizer.ggml.token_type"]?.intArray ?? Array(repeating: 1, count: tokens.count)
        var vocab = [String: Int]()
        var added = [[String: Any]]()
        for (id, token) in tokens.enumerated() where [1, 3, 4].contains(types[id]) {
            vocab[token] = id
            if types[id] != 1 {
                added.append(["id": id, "content": token, "special": types[id] == 3, "lstrip": false, "rstrip": false,
                              "single_word": false, "normalized": false])
            }
        }
        let merges: [[String]] = ggufMerges.map { m in
            let parts = m.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            return parts.count == 2 ? [String(parts[0]), String(parts[1])] : [m, ""]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        var noRegex = byteLevel
        noRegex["use_regex"] = false
        func split(_ regex: String) -> [String: Any] {
            ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
        }
        let llamaTail = #"|[^\r\n\p{L}\p{N}]?\p{L}+|"#
        let llamaRest = #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let contractions = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)"#
        var normalizer: Any = NSNull()
        let preTokenizer: [String: Any]
        switch tokenizer.preTokenizer {
        case .gpt2: preTokenizer = byteLevel
        case .smollm:
            preTokenizer = ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
        case .qwen2:
            normalizer = ["type": "NFC"]
            preTokenizer = ["type": "Sequence", "pretokenizers": [split(contractions + llamaTail + #"\p{N}"# + llamaRest), noRegex]]
        case .llama3:
            preTokenizer = ["type": "Sequence", "pretokenizers": [split(contractions + llamaTail + #"\p{N}{1,3}"# + llamaRest), noRegex]]
        }
        var postProcessor: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true]
        if tokenizer.addsBOS, let bos = tokenizer.bosID {
            let piece = tokenizer.piece(bos)
            postProcessor = [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": piece, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [["SpecialToken": ["id": piece, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                         ["SpecialToken": ["id": piece, "type_id": 1]], ["Sequence": ["id": "B", "type_id": 1]]],
                "special_tokens": [piece: ["id": piece, "ids": [bos], "tokens": [piece]]],
            ]
        }
        let json: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": normalizer, "pre_tokenizer": preTokenizer, "post_processor": postProcessor,
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": tokenizer.ignoresMerges, "vocab": vocab, "merges": merges],
        ]
        return try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    }
}
