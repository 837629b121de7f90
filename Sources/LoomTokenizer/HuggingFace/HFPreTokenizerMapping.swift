/// Maps the `normalizer`, `pre_tokenizer` and `decoder` sections of a Hugging Face
/// `tokenizer.json` onto Loom's hand-written pre-tokenizers.
///
/// Loom does not run arbitrary regular expressions: each `PreTokenizer` case is a scanner
/// equivalent to one known expression. A `Split` regex is therefore compared with the known
/// expression strings, and anything else is rejected with an error naming it, rather than
/// silently cutting text the wrong way.
enum HFPreTokenizerMapping {
    /// GPT-2's expression, also the implicit regex of `ByteLevel(use_regex: true)`.
    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Known `Split` expressions and the pre-tokenizer each one is equivalent to. The Llama 3 and
    /// Qwen2 expressions appear both as published (`(?i:…)`) and as llama.cpp spells them
    /// (case-insensitivity expanded into character classes).
    static let knownSplitRegexes: [String: PreTokenizer] = {
        let contractionsHF = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)"#
        let contractionsExpanded = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"#
        func llamaFamily(digits: String) -> [String] {
            let rest = #"|[^\r\n\p{L}\p{N}]?\p{L}+|"# + digits + #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
            return [contractionsHF + rest, contractionsExpanded + rest]
        }
        var table = [String: PreTokenizer]()
        for r in llamaFamily(digits: #"\p{N}{1,3}"#) { table[r] = .llama3 }
        for r in llamaFamily(digits: #"\p{N}"#) { table[r] = .qwen2 }
        table[gpt2Regex] = .gpt2
        return table
    }()

    /// One step of a (flattened) pre-tokenizer sequence.
    private enum Step: Equatable {
        case split(PreTokenizer)
        case individualDigits
        case byteLevel(useRegex: Bool)
    }

    /// The pre-tokenizer equivalent to `node` (the `pre_tokenizer` member of tokenizer.json).
    static func preTokenizer(from node: HFJSONNode) throws -> PreTokenizer {
        let steps = try flatten(node)
        switch steps {
        case [.byteLevel(useRegex: true)], [.split(.gpt2), .byteLevel(useRegex: false)]:
            return .gpt2
        case [.split(.llama3), .byteLevel(useRegex: false)]:
            return .llama3
        case [.split(.qwen2), .byteLevel(useRegex: false)]:
            return .qwen2
        case [.individualDigits, .byteLevel(useRegex: true)],
             [.individualDigits, .split(.gpt2), .byteLevel(useRegex: false)]:
            return .smollm
        default:
            throw node.failure("unsupported pre-tokenizer combination \(steps.map(describe)); supported: "
                + "ByteLevel(use_regex), Split(GPT-2/Llama 3/Qwen2 regex) + ByteLevel, Digits(individual) + ByteLevel")
        }
    }

    private static func describe(_ step: Step) -> String {
        switch step {
        case .split(let p): return "Split(\(p.rawValue) regex)"
        case .individualDigits: return "Digits(individual_digits)"
        case .byteLevel(let useRegex): return "ByteLevel(use_regex: \(useRegex))"
        }
    }

    private static func flatten(_ node: HFJSONNode) throws -> [Step] {
        let type = try node.typeName()
        switch type {
        case "Sequence":
            var steps = [Step]()
            for child in try node.member("pretokenizers").array() { steps += try flatten(child) }
            return steps
        case "ByteLevel":
            // tokenizers' defaults: add_prefix_space true, use_regex true.
            if try node.optionalBool("add_prefix_space") ?? true {
                throw node.failure(member: "add_prefix_space", "ByteLevel with add_prefix_space true is not supported")
            }
            return [.byteLevel(useRegex: try node.optionalBool("use_regex") ?? true)]
        case "Digits":
            guard try node.optionalBool("individual_digits") ?? false else {
                throw node.failure(member: "individual_digits", "Digits without individual_digits is not supported")
            }
            return [.individualDigits]
        case "Split":
            let pattern = try node.member("pattern")
            guard let regexNode = try pattern.optionalMember("Regex") else {
                throw pattern.failure("only a {\"Regex\": …} pattern is supported")
            }
            let regex = try regexNode.string()
            guard let kind = knownSplitRegexes[regex] else {
                throw regexNode.failure("unknown Split regex \(regex.debugDescription); supported: the GPT-2, Llama 3 and Qwen2 expressions")
            }
            let behavior = try node.member("behavior").string()
            guard behavior == "Isolated" else {
                throw node.failure(member: "behavior", "Split behavior \(behavior.debugDescription) is not supported (only Isolated)")
            }
            if try node.optionalBool("invert") ?? false {
                throw node.failure(member: "invert", "an inverted Split is not supported")
            }
            return [.split(kind)]
        default:
            throw node.failure(member: "type", "unsupported pre-tokenizer type \(type.debugDescription)")
        }
    }

    /// Whether the `normalizer` member asks for NFC (nil node = no normalizer).
    static func normalizesNFC(_ node: HFJSONNode?) throws -> Bool {
        guard let node else { return false }
        let type = try node.typeName()
        switch type {
        case "NFC":
            return true
        case "Sequence":
            var nfc = false
            for child in try node.member("normalizers").array() { nfc = try normalizesNFC(child) || nfc }
            return nfc
        default:
            throw node.failure(member: "type", "unsupported normalizer \(type.debugDescription) (supported: none, NFC)")
        }
    }

    /// Checks that the `decoder` member of `root` is byte-level (the only decoding Loom
    /// implements; without a decoder HF would join tokens with spaces).
    static func checkDecoder(in root: HFJSONNode) throws {
        guard let node = try root.optionalMember("decoder") else {
            throw root.failure(member: "decoder", "a ByteLevel decoder is required, found none")
        }
        try checkDecoder(node)
    }

    private static func checkDecoder(_ node: HFJSONNode) throws {
        let type = try node.typeName()
        switch type {
        case "ByteLevel":
            return
        case "Sequence":
            let children = try node.member("decoders").array()
            guard children.count == 1 else {
                throw node.failure("a decoder Sequence must hold exactly one ByteLevel decoder")
            }
            try checkDecoder(children[0])
        default:
            throw node.failure(member: "type", "unsupported decoder \(type.debugDescription) (only ByteLevel)")
        }
    }
}
