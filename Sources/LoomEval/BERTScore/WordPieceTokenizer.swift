import Foundation

/// BERT's WordPiece tokenizer, as the `tokenizers` library runs a `tokenizer.json` with a
/// `BertNormalizer`, `BertPreTokenizer`, `WordPiece` model and `[CLS] A [SEP]` template.
///
/// Special tokens written in the text (`[CLS]`, `[MASK]`, …) are matched before normalisation,
/// as the library's added vocabulary does. Each word is split greedily into the longest
/// vocabulary pieces, continuation pieces carrying the `##` prefix; a word longer than
/// `maxInputCharsPerWord` scalars, or one that cannot be split, becomes a single `[UNK]`.
///
/// ```swift
/// let tok = try WordPieceTokenizer(path: "tokenizer.json")
/// tok.encode("Hello, world!")   // [101, 7592, 1010, 2088, 999, 102]
/// ```
public struct WordPieceTokenizer: Sendable {
    /// Token strings by id.
    public let tokens: [String]
    /// The text normaliser and word splitter.
    public let normalizer: BertNormalizer
    public let unknownID: Int
    public let clsID: Int
    public let sepID: Int
    /// Prefix of word-continuation pieces (`##`).
    public let continuingPrefix: String
    /// Longer words (in Unicode scalars) become `[UNK]` without being split.
    public let maxInputCharsPerWord: Int
    /// Most ids `encode` returns, `[CLS]` and `[SEP]` included (BERT's `model_max_length`).
    public let maxLength: Int

    /// Vocabulary keyed by UTF-8 bytes: Swift `String` equality is canonical equivalence,
    /// the reference compares bytes.
    let vocabulary: [[UInt8]: Int]
    /// Special tokens matched verbatim in the raw text, longest first.
    let specialTokens: [(text: [Unicode.Scalar], id: Int)]

    /// A tokenizer from its parts; `tokens[id]` is the piece for `id`.
    public init(tokens: [String], normalizer: BertNormalizer = BertNormalizer(), unknownToken: String = "[UNK]",
                clsToken: String = "[CLS]", sepToken: String = "[SEP]", specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                continuingPrefix: String = "##", maxInputCharsPerWord: Int = 100, maxLength: Int = 512) throws {
        var vocabulary: [[UInt8]: Int] = [:]
        for (id, token) in tokens.enumerated() where vocabulary[Array(token.utf8)] == nil {
            vocabulary[Array(token.utf8)] = id
        }
        func id(_ token: String) throws -> Int {
            guard let id = vocabulary[Array(token.utf8)] else {
                throw EvalError.invalidParameter("WordPiece vocabulary has no \(token) token")
            }
            return id
        }
        guard maxLength >= 2 else { throw EvalError.invalidParameter("WordPiece maxLength must be ≥ 2, got \(maxLength)") }
        self.tokens = tokens
        self.vocabulary = vocabulary
        self.normalizer = normalizer
        unknownID = try id(unknownToken)
        clsID = try id(clsToken)
        sepID = try id(sepToken)
        self.continuingPrefix = continuingPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.maxLength = maxLength
        self.specialTokens = specialTokens.compactMap { text in
            vocabulary[Array(text.utf8)].map { (Array(text.unicodeScalars), $0) }
        }.sorted { $0.text.count > $1.text.count }
    }

    /// Loads a Hugging Face `tokenizer.json` (WordPiece model, BertNormalizer) or, for a
    /// `.txt` path, a BERT `vocab.txt` (one token per line; lower-casing as `lowercase`).
    public init(path: String, lowercase: Bool = true, maxLength: Int = 512) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalError.invalidParameter("cannot read the WordPiece vocabulary \(path)")
        }
        if path.hasSuffix(".txt") {
            var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            try self.init(tokens: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 },
                          normalizer: BertNormalizer(lowercase: lowercase), maxLength: maxLength)
            return
        }
        try self.init(tokenizerJSON: data, path: path, maxLength: maxLength)
    }

    /// Parses `tokenizer.json` bytes; `path` only names the file in errors.
    public init(tokenizerJSON data: Data, path: String = "tokenizer.json", maxLength: Int = 512) throws {
        func fail(_ reason: String) -> EvalError { .invalidParameter("\(path): \(reason)") }
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw fail("not a JSON object") }
            root = object
        } catch let error as EvalError {
            throw error
        } catch {
            throw fail("malformed JSON (\(error.localizedDescription))")
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("missing \"model\"") }
        guard (model["type"] as? String) == "WordPiece" else {
            throw fail("model type is \(model["type"] ?? "missing"), expected WordPiece")
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("missing model.vocab") }
        var tokens = [String](repeating: "", count: vocab.count)
        for (token, value) in vocab {
            guard let id = value as? Int, id >= 0, id < vocab.count else {
                throw fail("model.vocab[\(token.debugDescription)] = \(value) is not an id in 0..<\(vocab.count)")
            }
            tokens[id] = token
        }
        var normalizer = BertNormalizer()
        if let n = root["normalizer"] as? [String: Any] {
            guard (n["type"] as? String) == "BertNormalizer" else {
                throw fail("normalizer type \(n["type"] ?? "missing") is not supported (BertNormalizer only)")
            }
            normalizer = BertNormalizer(cleanText: n["clean_text"] as? Bool ?? true,
                                        handleChineseChars: n["handle_chinese_chars"] as? Bool ?? true,
                                        stripAccents: n["strip_accents"] as? Bool,
                                        lowercase: n["lowercase"] as? Bool ?? true)
        }
        if let p = root["pre_tokenizer"] as? [String: Any], (p["type"] as? String) != "BertPreTokenizer" {
            throw fail("pre_tokenizer type \(p["type"] ?? "missing") is not supported (BertPreTokenizer only)")
        }
        let added = (root["added_tokens"] as? [[String: Any]] ?? []).compactMap { $0["content"] as? String }
        try self.init(tokens: tokens, normalizer: normalizer,
                      unknownToken: model["unk_token"] as? String ?? "[UNK]",
                      specialTokens: added.isEmpty ? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] : added,
                      continuingPrefix: model["continuing_subword_prefix"] as? String ?? "##",
                      maxInputCharsPerWord: model["max_input_chars_per_word"] as? Int ?? 100,
                      maxLength: maxLength)
    }

    /// The tokenizer of a loaded BERT checkpoint (``BertCheckpointFiles/vocabulary``). A bare
    /// `vocab.txt` says nothing about casing, so `do_lower_case` comes from the
    /// `tokenizer_config.json` beside it (default: lowercase, as BertTokenizer's).
    public init(for model: BertModel, maxLength: Int) throws {
        var lowercase = true
        if model.files.vocabulary.hasSuffix(".txt") {
            let config = ((model.files.vocabulary as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tokenizer_config.json")
            if let data = FileManager.default.contents(atPath: config),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let flag = object["do_lower_case"] as? Bool {
                lowercase = flag
            }
        }
        try self.init(path: model.files.vocabulary, lowercase: lowercase, maxLength: maxLength)
    }

    /// `[CLS] pieces… [SEP]`, the pieces truncated so the whole fits `maxLength` (what
    /// bert_score's `sent_encode` returns; an empty or blank text gives `[CLS] [SEP]`).
    public func encode(_ text: String) -> [Int] {
        [clsID] + wordPieceIDs(text).prefix(maxLength - 2) + [sepID]
    }

    /// The ids of `text` without `[CLS]`/`[SEP]` and without truncation.
    public func wordPieceIDs(_ text: String) -> [Int] {
        var ids: [Int] = []
        var segment: [Unicode.Scalar] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            if let special = specialTokens.first(where: { matches($0.text, scalars, at: i) }) {
                appendWords(of: segment, to: &ids)
                segment.removeAll()
                ids.append(special.id)
                i += special.text.count
            } else {
                segment.append(scalars[i])
                i += 1
            }
        }
        appendWords(of: segment, to: &ids)
        return ids
    }

    /// The token strings for `ids` (for debugging and reports).
    public func pieces(_ ids: [Int]) -> [String] {
        ids.map { $0 >= 0 && $0 < tokens.count ? tokens[$0] : "<\($0)>" }
    }

    private func matches(_ needle: [Unicode.Scalar], _ haystack: [Unicode.Scalar], at start: Int) -> Bool {
        guard start + needle.count <= haystack.count else { return false }
        for k in 0..<needle.count where haystack[start + k] != needle[k] { return false }
        return true
    }

    private func appendWords(of segment: [Unicode.Scalar], to ids: inout [Int]) {
        guard !segment.isEmpty else { return }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: segment)
        for word in BertNormalizer.splitWords(normalizer.normalize(String(view))) {
            appendPieces(of: word, to: &ids)
        }
    }

    /// Greedy longest-match-first WordPiece over one word's scalars.
    private func appendPieces(of word: [Unicode.Scalar], to ids: inout [Int]) {
        if word.count > maxInputCharsPerWord { ids.append(unknownID); return }
        // UTF-8 bytes of the word and the byte offset where each scalar starts.
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        for s in word {
            offsets.append(bytes.count)
            UTF8.encode(s) { bytes.append($0) }
        }
        offsets.append(bytes.count)
        let prefix = Array(continuingPrefix.utf8)
        var pieces: [Int] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int?
            while start < end {
                let key = (start > 0 ? prefix : []) + bytes[offsets[start]..<offsets[end]]
                if let id = vocabulary[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { ids.append(unknownID); return }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }
}
