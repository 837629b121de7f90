import LoomFormats

extension BPETokenizer {
    /// Builds the tokenizer a GGUF file declares in its `tokenizer.ggml.*` metadata.
    ///
    /// Required: `tokenizer.ggml.model` = "gpt2" (byte-level BPE), `tokenizer.ggml.tokens`,
    /// `tokenizer.ggml.merges`. Optional: `tokenizer.ggml.pre` (missing → GPT-2 with a warning
    /// in `warnings`), `token_type`, `bos/eos/eot/eom/unknown_token_id`, `add_bos_token`
    /// (default: true for Llama 3, as in llama.cpp), `add_eos_token` (default false).
    /// - Throws: `TokenizerError` naming the missing or malformed key.
    public convenience init(gguf: GGUFFile) throws {
        func string(_ key: String) throws -> String? {
            guard let value = gguf[key] else { return nil }
            guard let s = value.stringValue else {
                throw TokenizerError.invalidValue(key: key, reason: "expected a string, found \(value.type)")
            }
            return s
        }
        func id(_ key: String) throws -> Int? {
            guard let value = gguf[key] else { return nil }
            guard let i = value.intValue, value.type != .bool else {
                throw TokenizerError.invalidValue(key: key, reason: "expected an integer token id, found \(value.type)")
            }
            return i
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = gguf[key] else { return nil }
            guard let b = value.boolValue else {
                throw TokenizerError.invalidValue(key: key, reason: "expected a bool, found \(value.type)")
            }
            return b
        }

        guard let model = try string("tokenizer.ggml.model") else {
            throw TokenizerError.missingKey("tokenizer.ggml.model")
        }
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(model) }

        var warnings = [String]()
        let pre: PreTokenizer
        if let name = try string("tokenizer.ggml.pre") {
            pre = try PreTokenizer(ggufName: name)
        } else {
            pre = .gpt2
            warnings.append("tokenizer.ggml.pre is missing; using the GPT-2 pre-tokenizer (the model's own may differ)")
        }

        guard let tokensValue = gguf["tokenizer.ggml.tokens"] else {
            throw TokenizerError.missingKey("tokenizer.ggml.tokens")
        }
        guard let tokens = tokensValue.stringArray else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.tokens", reason: "expected an array of strings")
        }
        var types: [Int]? = nil
        if let typesValue = gguf["tokenizer.ggml.token_type"] {
            guard let t = typesValue.intArray else {
                throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type", reason: "expected an array of integers")
            }
            types = t
        }
        guard let mergesValue = gguf["tokenizer.ggml.merges"] else {
            throw TokenizerError.missingKey("tokenizer.ggml.merges")
        }
        guard let merges = mergesValue.stringArray else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.merges", reason: "expected an array of strings")
        }

        try self.init(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
                      bosID: try id("tokenizer.ggml.bos_token_id"),
                      eosID: try id("tokenizer.ggml.eos_token_id"),
                      eotID: try id("tokenizer.ggml.eot_token_id"),
                      eomID: try id("tokenizer.ggml.eom_token_id"),
                      unknownID: try id("tokenizer.ggml.unknown_token_id"),
                      addBOS: try flag("tokenizer.ggml.add_bos_token") ?? pre.addsBOSByDefault,
                      addEOS: try flag("tokenizer.ggml.add_eos_token") ?? false,
                      ignoreMerges: pre.ignoresMergesByDefault,
                      normalizeNFC: pre.normalizesNFCByDefault,
                      warnings: warnings)
    }
}
