/// A byte-level BPE tokenizer (GPT-2 family: Llama 3, Qwen2, SmolLM, …) built from a vocabulary,
/// its merge list and the model's pre-tokenizer.
///
/// Encoding: special-token text is split out first (leftmost-longest; control tokens only when
/// `parseSpecial`), each remaining fragment is NFC-normalised if the model asks for it, cut into
/// words by the pre-tokenizer, and each word's bytes are BPE-merged. Decoding joins the bytes
/// of the tokens and decodes them as UTF-8 (invalid sequences become U+FFFD).
///
/// Immutable after init and therefore safe to share between threads.
public final class BPETokenizer: Sendable {
    /// The pre-tokenizer in use.
    public let preTokenizer: PreTokenizer
    public let bosID: Int?
    public let eosID: Int?
    /// End-of-turn token (`tokenizer.ggml.eot_token_id`), if the model declares one.
    public let eotID: Int?
    /// End-of-message token (`tokenizer.ggml.eom_token_id`), if the model declares one.
    public let eomID: Int?
    /// The model's unknown token (`tokenizer.ggml.unknown_token_id`), if declared. Encoding
    /// never produces it: byte-level BPE represents every byte the vocabulary has a piece for
    /// and drops the others, as llama.cpp and HF tokenizers do.
    public let unknownID: Int?
    /// Whether `encode(_:addSpecial: true)` prepends `bosID`.
    public let addsBOS: Bool
    /// Whether `encode(_:addSpecial: true)` appends `eosID`.
    public let addsEOS: Bool
    /// Whether a word that is itself a vocabulary entry skips merging (HF `ignore_merges`).
    public let ignoresMerges: Bool
    /// Whether text fragments are NFC-normalised before pre-tokenization.
    public let normalizesNFC: Bool
    /// Tokens that end generation: eos, eot, eom, and (llama.cpp's rule) every token whose text
    /// is an end-of-turn marker such as `<|im_end|>`, `<|eot_id|>`, `<|endoftext|>`, or a FIM
    /// pad/repo/file-separator marker.
    public let endOfGenerationIDs: Set<Int>
    /// Non-fatal problems found while loading (e.g. a missing `tokenizer.ggml.pre`).
    public let warnings: [String]

    let tokens: [String]
    let types: [UInt8]
    /// Bytes each token decodes to: `decodedBytes[decodedOffsets[id] ..< decodedOffsets[id + 1]]`.
    let decodedBytes: [UInt8]
    let decodedOffsets: [Int]
    /// Vocabulary pieces (ids `0 ..< vocabularySize`) followed by synthetic symbols for merge
    /// operands or results that are not themselves vocabulary entries.
    let symbols: SymbolTable
    let pairs: PairTable
    /// Initial BPE symbol of each byte (its one-scalar piece, e.g. 'Ġ' for 0x20).
    let byteSymbol: [Int32]
    let specials: SpecialTokenMatcher
    let scanner: PreTokenizerScanner

    /// Number of entries in the vocabulary; valid ids are `0 ..< vocabularySize`.
    public var vocabularySize: Int { tokens.count }

    /// Token texts that llama.cpp treats as end of generation (and forces to control type).
    /// [llama.cpp src/llama-vocab.cpp, load: special_eog_ids and the FIM pad/rep/sep searches]
    /// Deliberately missing: "</s>", which llama.cpp added for PaddleOCR. In Qwen2.5's
    /// vocabulary it is an ordinary token (the HTML strike-through close tag); making it EOG and
    /// control would stop generation inside HTML and tokenize "</s>" unlike Qwen's own tokenizer
    /// (llama.cpp itself takes it back out for Gemma 4).
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        // FIM pad, repo and file-separator markers
        "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
        "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
        "<|file_sep|>",
    ]

    /// Builds a tokenizer from raw vocabulary data (normally read by `init(gguf:)`).
    ///
    /// - Parameters:
    ///   - tokens: vocabulary pieces in byte-level form (`"Ġthe"`), index = token id.
    ///   - tokenTypes: `TokenType` raw values per token; nil means all normal.
    ///   - merges: `"left right"` merge rules, highest priority first.
    ///   - ignoreMerges: emit a word directly when it is a vocabulary entry (Llama 3).
    ///   - eomID, unknownID: optional end-of-message and unknown tokens.
    ///   - normalizeNFC: NFC-normalise text first; nil uses the pre-tokenizer's default.
    /// - Throws: `TokenizerError` naming the inconsistent input (an empty vocabulary, a
    ///   token-type count or value that is wrong, an id out of range, a malformed merge, or
    ///   `addBOS`/`addEOS` without the token).
    public convenience init(tokens: [String], tokenTypes: [Int]?, merges: [String], preTokenizer: PreTokenizer,
                            bosID: Int?, eosID: Int?, eotID: Int?, addBOS: Bool, addEOS: Bool, ignoreMerges: Bool,
                            eomID: Int? = nil, unknownID: Int? = nil, normalizeNFC: Bool? = nil) throws {
        try self.init(tokens: tokens, tokenTypes: tokenTypes, merges: merges, preTokenizer: preTokenizer,
                      bosID: bosID, eosID: eosID, eotID: eotID, eomID: eomID, unknownID: unknownID,
                      addBOS: addBOS, addEOS: addEOS, ignoreMerges: ignoreMerges,
                      normalizeNFC: normalizeNFC ?? preTokenizer.normalizesNFCByDefault, warnings: [])
    }

    init(tokens: [String], tokenTypes: [Int]?, merges: [String], preTokenizer: PreTokenizer,
         bosID: Int?, eosID: Int?, eotID: Int?, eomID: Int?, unknownID: Int?,
         addBOS: Bool, addEOS: Bool, ignoreMerges: Bool, normalizeNFC: Bool, warnings: [String]) throws {
        let n = tokens.count
        guard n > 0 else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.tokens", reason: "the vocabulary is empty")
        }
        // Symbol ids (vocabulary + synthetic) and merge ranks are stored as Int32.
        guard n + 2 * merges.count + 256 < Int(Int32.max) else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.tokens",
                                              reason: "\(n) tokens and \(merges.count) merges exceed the supported size")
        }
        var types = [UInt8](repeating: UInt8(TokenType.normal.rawValue), count: n)
        if let tokenTypes {
            guard tokenTypes.count == n else {
                throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type",
                                                  reason: "\(tokenTypes.count) entries for \(n) tokens")
            }
            for (i, t) in tokenTypes.enumerated() {
                guard TokenType(rawValue: t) != nil else {
                    throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type",
                                                      reason: "entry \(i) is \(t), not a token type (0...6)")
                }
                types[i] = UInt8(t)
            }
        }
        for (id, key) in [(bosID, "bos"), (eosID, "eos"), (eotID, "eot"), (eomID, "eom"), (unknownID, "unknown")] {
            if let id, id < 0 || id >= n {
                throw TokenizerError.invalidValue(key: "tokenizer.ggml.\(key)_token_id",
                                                  reason: "id \(id) is outside the vocabulary (0..<\(n))")
            }
        }
        if addBOS && bosID == nil {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.add_bos_token",
                                              reason: "BOS is to be added but tokenizer.ggml.bos_token_id is missing")
        }
        if addEOS && eosID == nil {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.add_eos_token",
                                              reason: "EOS is to be added but tokenizer.ggml.eos_token_id is missing")
        }

        // End of generation, by id and by text; such tokens become control tokens (llama.cpp
        // overrides the type of "control-looking" tokens the same way).
        var eog = Set<Int>()
        for i in 0 ..< n {
            guard let first = tokens[i].utf8.first,
                  first == UInt8(ascii: "<") || first == UInt8(ascii: "_") || first == UInt8(ascii: "[")
            else { continue }
            if Self.endOfGenerationTexts.contains(tokens[i]) {
                eog.insert(i)
                types[i] = UInt8(TokenType.control.rawValue)
            }
        }
        // gpt-oss (o200k_harmony) and solar-open end a turn with <|return|>/<|call|> or
        // <|calls|>/<|flush|>; their <|end|> is not EOG.
        let textIDs = Dictionary(eog.map { (tokens[$0], $0) }, uniquingKeysWith: { a, _ in a })
        let hasCall = textIDs["<|call|>"] != nil || textIDs["<|calls|>"] != nil
        if hasCall, textIDs["<|return|>"] != nil || textIDs["<|flush|>"] != nil, let end = textIDs["<|end|>"] {
            eog.remove(end)
            types[end] = UInt8(TokenType.userDefined.rawValue)
        }
        for id in [eosID, eotID, eomID] { if let id { eog.insert(id) } }

        // Pieces, decoded bytes, and the special-token matcher.
        var symbols = SymbolTable(capacity: n + 256)
        var decodedBytes = [UInt8]()
        decodedBytes.reserveCapacity(n * 8)
        var decodedOffsets = [Int]()
        decodedOffsets.reserveCapacity(n + 1)
        decodedOffsets.append(0)
        var specials = SpecialTokenMatcher()
        for i in 0 ..< n {
            var piece = tokens[i]
            let type = TokenType(rawValue: Int(types[i]))!
            piece.withUTF8 { raw in
                symbols.append(raw)
                switch type {
                case .normal, .undefined, .byte:
                    Self.appendByteLevelDecoding(of: raw, to: &decodedBytes)
                case .control, .userDefined, .unknown:
                    decodedBytes.append(contentsOf: raw)
                    specials.add(text: Array(raw), id: i, needsParseSpecial: type != .userDefined)
                case .unused:
                    break
                }
            }
            decodedOffsets.append(decodedBytes.count)
        }

        // Initial symbols: the one-scalar piece of each byte, synthetic if the vocabulary lacks it.
        var byteSymbol = [Int32](repeating: 0, count: 256)
        for b in 0 ..< 256 {
            let (u0, u1, len) = ByteLevel.utf8ForByte[b]
            let key = len == 1 ? [u0] : [u0, u1]
            byteSymbol[b] = key.withUnsafeBufferPointer { k in Int32(symbols.find(k) ?? symbols.append(k)) }
        }

        // Merge rules → (left id, right id) → (rank, merged id).
        var pairs = PairTable(capacity: merges.count)
        var joined = [UInt8]()
        for (rank, rule) in merges.enumerated() {
            var rule = rule
            try rule.withUTF8 { u in
                // llama.cpp splits at the first space found from index 1, so a left symbol may
                // itself start with a space.
                var sp = 1
                while sp < u.count && u[sp] != 0x20 { sp += 1 }
                guard sp + 1 < u.count else {
                    throw TokenizerError.invalidValue(key: "tokenizer.ggml.merges",
                                                      reason: "entry \(rank) \"\(String(decoding: u, as: UTF8.self))\" is not two symbols separated by a space")
                }
                let left = UnsafeBufferPointer(rebasing: u[0 ..< sp])
                let right = UnsafeBufferPointer(rebasing: u[(sp + 1)...])
                let l = symbols.find(left) ?? symbols.append(left)
                let r = symbols.find(right) ?? symbols.append(right)
                joined.removeAll(keepingCapacity: true)
                joined.append(contentsOf: left)
                joined.append(contentsOf: right)
                let m = joined.withUnsafeBufferPointer { symbols.find($0) ?? symbols.append($0) }
                pairs.insert(left: Int32(l), right: Int32(r), rank: Int32(rank), merged: Int32(m))
            }
        }

        self.preTokenizer = preTokenizer
        self.scanner = PreTokenizerScanner(kind: preTokenizer)
        self.bosID = bosID
        self.eosID = eosID
        self.eotID = eotID
        self.eomID = eomID
        self.unknownID = unknownID
        self.addsBOS = addBOS
        self.addsEOS = addEOS
        self.ignoresMerges = ignoreMerges
        self.normalizesNFC = normalizeNFC
        self.endOfGenerationIDs = eog
        self.warnings = warnings
        self.tokens = tokens
        self.types = types
        self.decodedBytes = decodedBytes
        self.decodedOffsets = decodedOffsets
        self.symbols = symbols
        self.pairs = pairs
        self.byteSymbol = byteSymbol
        self.specials = specials
    }

    /// Appends the bytes a byte-level piece stands for; if any scalar is outside the byte
    /// alphabet the raw UTF-8 is used instead (HF ByteLevel decoder behaviour).
    private static func appendByteLevelDecoding(of raw: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let start = out.count
        var i = 0
        while i < raw.count {
            let b0 = raw[i]
            var v = UInt32(b0)
            var len = 1
            if b0 >= 0xC0 && b0 < 0xE0 && i + 1 < raw.count {
                v = UInt32(b0 & 0x1F) << 6 | UInt32(raw[i + 1] & 0x3F)
                len = 2
            } else if b0 >= 0x80 {
                v = UInt32.max  // three- and four-byte scalars are all outside the alphabet
            }
            guard let byte = ByteLevel.byte(for: v) else {
                out.removeSubrange(start...)
                out.append(contentsOf: raw)
                return
            }
            out.append(byte)
            i += len
        }
    }

    // MARK: - Queries

    /// The type of token `id`, or nil for an id outside the vocabulary.
    public func tokenType(_ id: Int) -> TokenType? {
        guard id >= 0 && id < tokens.count else { return nil }
        return TokenType(rawValue: Int(types[id]))
    }

    /// Whether `id` is a control (special) token.
    public func isControl(_ id: Int) -> Bool { tokenType(id) == .control }

    /// Whether `decode(_:skipSpecial: true)` drops `id` (control and unknown tokens).
    func isSkippedAsSpecial(_ id: Int) -> Bool {
        let t = types[id]
        return t == UInt8(TokenType.control.rawValue) || t == UInt8(TokenType.unknown.rawValue)
    }

    /// The raw vocabulary string of `id` (e.g. "Ġthe"); empty for an id outside the vocabulary.
    public func piece(_ id: Int) -> String {
        guard id >= 0 && id < tokens.count else { return "" }
        return tokens[id]
    }

    /// The bytes token `id` decodes to: byte-level decoding for normal tokens, the literal text
    /// for control/user-defined tokens, nothing for unused ones or an id outside the vocabulary.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0 && id < tokens.count else { return [] }
        return Array(decodedBytes[decodedOffsets[id] ..< decodedOffsets[id + 1]])
    }

    /// The id of the vocabulary entry whose raw text is exactly `piece` (byte-wise comparison).
    public func id(of piece: String) -> Int? {
        var piece = piece
        return piece.withUTF8 { raw in
            guard let id = symbols.find(raw), id < tokens.count else { return nil }
            return id
        }
    }

    // MARK: - Decoding

    /// Appends the bytes of `id` to `out`. An id outside the vocabulary appends U+FFFD so the
    /// problem stays visible in the text instead of vanishing.
    func appendBytes(of id: Int, skipSpecial: Bool, to out: inout [UInt8]) {
        guard id >= 0 && id < tokens.count else {
            out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            return
        }
        if skipSpecial && isSkippedAsSpecial(id) { return }
        out.append(contentsOf: decodedBytes[decodedOffsets[id] ..< decodedOffsets[id + 1]])
    }

    /// Joins the bytes of `ids` and decodes them as UTF-8; ill-formed sequences become U+FFFD.
    /// - Parameter skipSpecial: drop control and unknown tokens (BOS, `<|im_end|>`, …).
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Encoding

    /// Tokenizes `text`.
    /// - Parameters:
    ///   - addSpecial: prepend BOS / append EOS as the model's metadata asks (`addsBOS`, `addsEOS`).
    ///   - parseSpecial: recognise the text of control tokens (e.g. `<|im_start|>`) as those
    ///     tokens; when false they are tokenized as plain text. User-defined tokens are always
    ///     recognised (llama.cpp and HF agree on this).
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial && addsBOS, let bos = bosID { out.append(bos) }
        var session = EncodeSession(tokenizer: self)
        var text = text
        text.withUTF8 { buf in
            var pos = 0
            while pos < buf.count {
                guard !specials.isEmpty,
                      let m = specials.firstMatch(in: buf, from: pos, parseSpecial: parseSpecial)
                else {
                    session.encodeFragment(UnsafeBufferPointer(rebasing: buf[pos...]), into: &out)
                    break
                }
                if m.start > pos {
                    session.encodeFragment(UnsafeBufferPointer(rebasing: buf[pos ..< m.start]), into: &out)
                }
                out.append(m.id)
                pos = m.start + m.length
            }
        }
        if addSpecial && addsEOS, let eos = eosID { out.append(eos) }
        return out
    }
}
