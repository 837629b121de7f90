/// What a tokenizer.json `post_processor` does to the ids of a single sequence when special
/// tokens are requested: at most one token before and one after (`TemplateProcessing` such as
/// Llama 3.1's `<|begin_of_text|> $A`). `ByteLevel` only adjusts offsets and adds nothing.
struct HFPostProcessor {
    var prefix: Int?
    var suffix: Int?

    init(_ node: HFJSONNode?, vocabularySize: Int) throws {
        guard let node else { return }
        try apply(node, vocabularySize: vocabularySize)
    }

    private mutating func apply(_ node: HFJSONNode, vocabularySize: Int) throws {
        let type = try node.typeName()
        switch type {
        case "ByteLevel":
            return
        case "Sequence":
            for child in try node.member("processors").array() { try apply(child, vocabularySize: vocabularySize) }
        case "TemplateProcessing":
            guard prefix == nil && suffix == nil else {
                throw node.failure("more than one TemplateProcessing post-processor is not supported")
            }
            try applyTemplate(node, vocabularySize: vocabularySize)
        default:
            throw node.failure(member: "type", "unsupported post-processor \(type.debugDescription) (supported: ByteLevel, TemplateProcessing, Sequence)")
        }
    }

    /// `single`: `[SpecialToken]? Sequence(A) [SpecialToken]?`; each special token's entry in
    /// `special_tokens` must stand for exactly one id.
    private mutating func applyTemplate(_ node: HFJSONNode, vocabularySize: Int) throws {
        let specials = try node.member("special_tokens")
        var sawSequence = false
        var before = [Int]()
        var after = [Int]()
        for piece in try node.member("single").array() {
            if let sequence = try piece.optionalMember("Sequence") {
                let id = try sequence.member("id").string()
                guard id == "A", !sawSequence else {
                    throw sequence.failure("a single-sequence template must contain sequence A exactly once")
                }
                sawSequence = true
            } else if let special = try piece.optionalMember("SpecialToken") {
                let name = try special.member("id").string()
                guard let entry = try specials.optionalMember(name) else {
                    throw special.failure(member: "id", "\(name.debugDescription) is not in special_tokens")
                }
                let ids = try entry.member("ids").array()
                guard ids.count == 1 else {
                    throw entry.failure(member: "ids", "a special token standing for \(ids.count) ids is not supported")
                }
                let id = try ids[0].int()
                guard id >= 0 && id < vocabularySize else {
                    throw ids[0].failure("id \(id) is outside the vocabulary (0..<\(vocabularySize))")
                }
                if sawSequence { after.append(id) } else { before.append(id) }
            } else {
                throw piece.failure("expected {\"Sequence\": …} or {\"SpecialToken\": …}")
            }
        }
        guard sawSequence else { throw node.failure(member: "single", "the template has no sequence A") }
        guard before.count <= 1 && after.count <= 1 else {
            throw node.failure(member: "single", "templates adding more than one token before or after the text are not supported")
        }
        prefix = before.first
        suffix = after.first
    }
}
