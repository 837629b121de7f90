/// The parts of a Hugging Face `tokenizer_config.json` that matter for running a model: the
/// chat template(s), the BOS/EOS token texts and whether they are added, and the context limit.
///
/// Token fields may be a string or an AddedToken object (`{"content": "<s>", …}`); the chat
/// template may be a string or a list of `{"name": …, "template": …}` (the one named "default"
/// becomes `chatTemplate`). Wrong types throw `TokenizerError.invalidFile` naming the field.
public struct HFTokenizerConfig: Sendable, Equatable {
    /// The default chat template (Jinja source), if any.
    public let chatTemplate: String?
    /// Templates listed by name (including "default" when the file uses the list form).
    public let namedChatTemplates: [String: String]
    public let bosToken: String?
    public let eosToken: String?
    public let padToken: String?
    public let unknownToken: String?
    /// `add_bos_token`, when the file states it.
    public let addBOSToken: Bool?
    /// `add_eos_token`, when the file states it.
    public let addEOSToken: Bool?
    /// `model_max_length`; nil when absent or beyond `Int` (HF writes 1e30 for "no limit").
    public let modelMaxLength: Int?
    /// `tokenizer_class`, e.g. "PreTrainedTokenizerFast".
    public let tokenizerClass: String?

    /// Reads a tokenizer_config.json file.
    public init(path: String) throws {
        try self.init(root: HFJSONNode.load(path: path, displayName: "tokenizer_config.json"))
    }

    /// Parses tokenizer_config.json text held in memory; `fileName` is used in error messages.
    public init(bytes: [UInt8], fileName: String = "tokenizer_config.json") throws {
        try self.init(root: HFJSONNode.parse(bytes: bytes, displayName: fileName))
    }

    init(root: HFJSONNode) throws {
        _ = try root.object()
        var named = [String: String]()
        var template: String? = nil
        if let node = try root.optionalMember("chat_template") {
            switch node.value {
            case .string(let s):
                template = s
            case .array:
                for entry in try node.array() {
                    let name = try entry.member("name").string()
                    let source = try entry.member("template").string()
                    guard named[name] == nil else { throw entry.failure(member: "name", "template \(name.debugDescription) is listed twice") }
                    named[name] = source
                }
                template = named["default"]
            default:
                throw node.failure("expected a string or a list of {name, template}, found \(node.value.kindDescription)")
            }
        }
        chatTemplate = template
        namedChatTemplates = named
        bosToken = try Self.tokenText(root, "bos_token")
        eosToken = try Self.tokenText(root, "eos_token")
        padToken = try Self.tokenText(root, "pad_token")
        unknownToken = try Self.tokenText(root, "unk_token")
        addBOSToken = try root.optionalBool("add_bos_token")
        addEOSToken = try root.optionalBool("add_eos_token")
        tokenizerClass = try root.optionalString("tokenizer_class")
        if let node = try root.optionalMember("model_max_length") {
            switch node.value {
            case .integer(let n):
                guard n > 0 else { throw node.failure("model_max_length \(n) is not positive") }
                modelMaxLength = n
            case .number(let d):
                guard d > 0 else { throw node.failure("model_max_length \(d) is not positive") }
                modelMaxLength = d < 9.0e15 && d == d.rounded() ? Int(d) : nil
            default:
                throw node.failure("expected a number, found \(node.value.kindDescription)")
            }
        } else {
            modelMaxLength = nil
        }
    }

    /// A token given as a string or as an AddedToken object with `content`.
    private static func tokenText(_ root: HFJSONNode, _ key: String) throws -> String? {
        guard let node = try root.optionalMember(key) else { return nil }
        switch node.value {
        case .string(let s): return s
        case .object: return try node.member("content").string()
        default: throw node.failure("expected a string or an object with \"content\", found \(node.value.kindDescription)")
        }
    }

    /// The ids of `bosToken` and `eosToken` in `tokens` (the tokenizer's token texts).
    /// - Throws: `TokenizerError.invalidFile` naming a token that is not in the vocabulary.
    func resolveSpecialIDs(_ lookup: (String) -> Int?, fileName: String = "tokenizer_config.json") throws -> (bos: Int?, eos: Int?) {
        func resolve(_ text: String?, _ key: String) throws -> Int? {
            guard let text else { return nil }
            guard let id = lookup(text) else {
                throw TokenizerError.invalidFile(file: fileName, path: key, reason: "\(text.debugDescription) is not in the vocabulary")
            }
            return id
        }
        return (try resolve(bosToken, "bos_token"), try resolve(eosToken, "eos_token"))
    }

    /// The ids of `bosToken` and `eosToken` in `tokenizer`'s vocabulary.
    /// - Throws: `TokenizerError.invalidFile` naming a token that is not in the vocabulary.
    public func specialTokenIDs(in tokenizer: BPETokenizer) throws -> (bos: Int?, eos: Int?) {
        try resolveSpecialIDs { tokenizer.id(of: $0) }
    }
}
