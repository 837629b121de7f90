/// The contents of a Hugging Face fast-tokenizer file (`tokenizer.json`) for a byte-level BPE
/// model, checked and mapped onto what `BPETokenizer` needs.
///
/// Supported: `model.type` "BPE" with `vocab`, `merges` (`"a b"` strings or `["a", "b"]`
/// pairs), `ignore_merges`, `byte_fallback` false, no subword prefix/suffix, no dropout;
/// `normalizer` null or NFC; the GPT-2, Llama 3, Qwen2 and SmolLM pre-tokenizers (see
/// `HFPreTokenizerMapping`); `added_tokens` without lstrip/rstrip/single_word; a ByteLevel
/// decoder; a ByteLevel and/or TemplateProcessing post-processor that adds at most one token
/// before and one after the text. Everything else throws `TokenizerError.invalidFile` naming
/// the file, the JSON path and the problem.
public struct HFTokenizerFile: Sendable {
    /// An entry of `added_tokens`.
    public struct AddedToken: Sendable, Equatable {
        public let id: Int
        /// The literal text (not byte-level encoded), e.g. `<|begin_of_text|>`.
        public let content: String
        /// Special tokens are control tokens (skipped by `decode(_:skipSpecial: true)`);
        /// the others are user-defined tokens.
        public let special: Bool
    }

    /// The file name used in error messages.
    public let fileName: String
    /// Token text per id: byte-level pieces from `model.vocab`, literal text for added tokens.
    public let tokens: [String]
    /// `TokenType` raw values per id: normal, control (special added) or user-defined.
    public let tokenTypes: [Int]
    /// Merge rules as `"left right"`, highest priority first.
    public let merges: [String]
    public let preTokenizer: PreTokenizer
    /// Whether the normalizer is NFC.
    public let normalizesNFC: Bool
    /// `model.ignore_merges`.
    public let ignoresMerges: Bool
    /// The id of `model.unk_token`, if any.
    public let unknownTokenID: Int?
    public let addedTokens: [AddedToken]
    /// The token the post-processor puts before the text (e.g. Llama 3.1's `<|begin_of_text|>`).
    public let prefixTokenID: Int?
    /// The token the post-processor puts after the text.
    public let suffixTokenID: Int?

    /// Ids are bounded well below `Int32.max`, which Loom's symbol tables use.
    static let maximumID = 1 << 30

    /// Reads and checks a tokenizer.json file.
    public init(path: String) throws {
        try self.init(root: HFJSONNode.load(path: path, displayName: "tokenizer.json"))
    }

    /// Parses tokenizer.json text held in memory; `fileName` is used in error messages.
    public init(bytes: [UInt8], fileName: String = "tokenizer.json") throws {
        try self.init(root: HFJSONNode.parse(bytes: bytes, displayName: fileName))
    }

    init(root: HFJSONNode) throws {
        fileName = root.file
        let model = try root.member("model")
        if let type = try model.optionalString("type"), type != "BPE" {
            throw model.failure(member: "type", "model type \(type.debugDescription) is not supported (only BPE)")
        }
        if try model.optionalBool("byte_fallback") ?? false {
            throw model.failure(member: "byte_fallback", "byte_fallback is not supported (byte-level BPE only)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = try model.optionalString(key), !value.isEmpty {
                throw model.failure(member: key, "\(key) \(value.debugDescription) is not supported")
            }
        }
        if let dropout = try model.optionalDouble("dropout"), dropout != 0 {
            throw model.failure(member: "dropout", "BPE dropout is not supported")
        }
        ignoresMerges = try model.optionalBool("ignore_merges") ?? false

        // Vocabulary.
        let vocabNode = try model.member("vocab")
        let vocab = try vocabNode.object()
        var pieceOfID = [Int: String](minimumCapacity: vocab.count)
        var vocabIDs = [String: Int](minimumCapacity: vocab.count)
        for (piece, value) in vocab {
            let node = vocabNode.child(piece, value)
            let id = try node.int()
            guard id >= 0 && id <= Self.maximumID else { throw node.failure("token id \(id) is outside 0...\(Self.maximumID)") }
            if let other = pieceOfID[id] {
                throw node.failure("token id \(id) is also used by \(other.debugDescription)")
            }
            pieceOfID[id] = piece
            vocabIDs[piece] = id
        }

        // Added tokens: at their ids, either on top of the same vocabulary entry or beyond it.
        var added = [AddedToken]()
        var addedByID = [Int: AddedToken]()
        if let list = try root.optionalMember("added_tokens") {
            for node in try list.array() {
                let id = try node.member("id").int()
                guard id >= 0 && id <= Self.maximumID else {
                    throw node.failure(member: "id", "token id \(id) is outside 0...\(Self.maximumID)")
                }
                let content = try node.member("content").string()
                guard !content.isEmpty else { throw node.failure(member: "content", "empty token text") }
                let special = try node.optionalBool("special") ?? false
                for flag in ["lstrip", "rstrip", "single_word"] where try node.optionalBool(flag) ?? false {
                    throw node.failure(member: flag, "added tokens with \(flag) true are not supported")
                }
                let token = AddedToken(id: id, content: content, special: special)
                if let previous = addedByID[id] {
                    guard previous == token else {
                        throw node.failure(member: "id", "id \(id) is already the added token \(previous.content.debugDescription)")
                    }
                    continue
                }
                if let piece = pieceOfID[id], piece != content {
                    throw node.failure(member: "id", "id \(id) is \(piece.debugDescription) in model.vocab, not \(content.debugDescription)")
                }
                addedByID[id] = token
                added.append(token)
            }
        }
        addedTokens = added

        // Every id from 0 to the largest must have a token.
        let size = max(pieceOfID.keys.max() ?? -1, addedByID.keys.max() ?? -1) + 1
        guard size > 0 else { throw vocabNode.failure("the vocabulary is empty") }
        let covered = pieceOfID.count + addedByID.keys.filter { pieceOfID[$0] == nil }.count
        if size > covered {
            let gap = (0 ..< size).first { pieceOfID[$0] == nil && addedByID[$0] == nil }!
            throw vocabNode.failure("token id \(gap) has no token (ids must run from 0 to \(size - 1) without gaps "
                + "across model.vocab and added_tokens)")
        }
        var tokens = [String]()
        var tokenTypes = [Int]()
        tokens.reserveCapacity(size)
        tokenTypes.reserveCapacity(size)
        for id in 0 ..< size {
            if let token = addedByID[id] {
                tokens.append(token.content)
                tokenTypes.append(token.special ? TokenType.control.rawValue : TokenType.userDefined.rawValue)
            } else {
                tokens.append(pieceOfID[id]!)
                tokenTypes.append(TokenType.normal.rawValue)
            }
        }
        self.tokens = tokens
        self.tokenTypes = tokenTypes

        merges = try Self.parseMerges(try model.member("merges"), vocab: vocabIDs)

        if let unk = try model.optionalString("unk_token") {
            guard let id = vocabIDs[unk] else {
                throw model.failure(member: "unk_token", "\(unk.debugDescription) is not in model.vocab")
            }
            unknownTokenID = id
        } else {
            unknownTokenID = nil
        }

        normalizesNFC = try HFPreTokenizerMapping.normalizesNFC(try root.optionalMember("normalizer"))
        guard let pre = try root.optionalMember("pre_tokenizer") else {
            throw root.failure(member: "pre_tokenizer", "a pre-tokenizer is required for byte-level BPE, found none")
        }
        preTokenizer = try HFPreTokenizerMapping.preTokenizer(from: pre)
        try HFPreTokenizerMapping.checkDecoder(in: root)
        let template = try HFPostProcessor(try root.optionalMember("post_processor"), vocabularySize: size)
        prefixTokenID = template.prefix
        suffixTokenID = template.suffix
    }

    /// Merge rules in Loom's `"left right"` form. Like HF tokenizers, both operands and their
    /// concatenation must be vocabulary entries.
    private static func parseMerges(_ node: HFJSONNode, vocab: [String: Int]) throws -> [String] {
        guard case .array(let list) = node.value else { throw node.failure("expected an array, found \(node.value.kindDescription)") }
        var merges = [String]()
        merges.reserveCapacity(list.count)
        for (rank, value) in list.enumerated() {
            let left: String, right: String
            switch value {
            case .string(let rule):
                // The pre-0.20 form: exactly one space separates the two non-empty operands.
                let u = rule.utf8
                guard let space = u.firstIndex(of: 0x20), space != u.startIndex,
                      case let rightStart = u.index(after: space), rightStart != u.endIndex,
                      !u[rightStart...].contains(0x20)
                else {
                    throw node.element(rank, value).failure("merge \(rule.debugDescription) is not two symbols separated by one space")
                }
                left = String(rule[..<space])
                right = String(rule[rightStart...])
                merges.append(rule)
            case .array(let pair):
                guard pair.count == 2, case .string(let l) = pair[0], case .string(let r) = pair[1], !l.isEmpty, !r.isEmpty else {
                    throw node.element(rank, value).failure("expected a pair of non-empty strings")
                }
                // Loom stores "left right" and splits at the first space after the first
                // character, so only the left operand is restricted.
                guard !l.utf8.dropFirst().contains(0x20) else {
                    throw node.element(rank, value).failure("a left merge operand containing a space (\(l.debugDescription)) is not supported")
                }
                left = l
                right = r
                merges.append(l + " " + r)
            default:
                throw node.element(rank, value).failure("expected a string or a pair, found \(value.kindDescription)")
            }
            guard vocab[left] != nil, vocab[right] != nil, vocab[left + right] != nil else {
                let missing = [left, right, left + right].first { vocab[$0] == nil }!
                throw node.element(rank, value).failure("\(missing.debugDescription) is not in model.vocab")
            }
        }
        return merges
    }
}
