import Foundation

extension BPETokenizer {
    /// Builds the tokenizer a Hugging Face fast-tokenizer file describes.
    ///
    /// - Parameter path: a `tokenizer.json` file, or a directory holding one. From a directory
    ///   (or next to a file named exactly `tokenizer.json`), `tokenizer_config.json` supplies
    ///   bos/eos tokens and `add_bos_token`/`add_eos_token`, and `generation_config.json`'s
    ///   `eos_token_id`s join `endOfGenerationIDs` (as transformers' `generate` stops on them).
    ///   Without a config, BOS/EOS are added only as the file's post-processor template says
    ///   (HF tokenizers behaviour: Meta's original Llama 3 file adds none, Llama 3.1's adds
    ///   `<|begin_of_text|>`).
    /// - Throws: `TokenizerError.invalidFile` naming the file, JSON path and problem
    ///   (malformed JSON, wrong types, an unknown pre-tokenizer regex, an unsupported
    ///   normalizer, a gap in the ids, …).
    public convenience init(huggingFace path: String) throws {
        try self.init(source: HFTokenizerSource(path: path))
    }

    /// `init(huggingFace:)` for a file URL.
    public convenience init(huggingFace url: URL) throws {
        try self.init(huggingFace: url.path)
    }

    convenience init(source: HFTokenizerSource) throws {
        let file = source.file
        do {
            try self.init(tokens: file.tokens, tokenTypes: file.tokenTypes, merges: file.merges,
                          preTokenizer: file.preTokenizer,
                          bosID: source.bosID, eosID: source.eosID, eotID: source.eotID, eomID: source.eomID,
                          unknownID: file.unknownTokenID, addBOS: source.addBOS, addEOS: source.addEOS,
                          ignoreMerges: file.ignoresMerges, normalizeNFC: file.normalizesNFC,
                          warnings: source.warnings)
        } catch let error as TokenizerError {
            // The checks above should leave nothing for the tokenizer to reject; if something
            // slips through, report it against the file rather than a GGUF key.
            throw TokenizerError.invalidFile(file: file.fileName, path: "", reason: error.description)
        }
    }
}
