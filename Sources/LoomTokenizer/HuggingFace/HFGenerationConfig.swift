/// The sampling defaults and stop tokens of a Hugging Face `generation_config.json`.
///
/// `eos_token_id` may be one id or a list; like transformers' `generate`, every listed id ends
/// generation. Values out of range (negative temperature, top_p outside (0, 1], …) throw
/// `TokenizerError.invalidFile` naming the field.
public struct HFGenerationConfig: Sendable, Equatable {
    public let bosTokenID: Int?
    /// Every id that ends generation (empty when the file names none).
    public let eosTokenIDs: [Int]
    public let padTokenID: Int?
    /// `do_sample`; when false, transformers decodes greedily whatever `temperature` says.
    public let doSample: Bool?
    public let temperature: Double?
    public let topP: Double?
    public let topK: Int?
    public let repetitionPenalty: Double?
    public let maxNewTokens: Int?
    /// `max_length`: prompt plus generated tokens.
    public let maxLength: Int?

    /// Reads a generation_config.json file.
    public init(path: String) throws {
        try self.init(root: HFJSONNode.load(path: path, displayName: "generation_config.json"))
    }

    /// Parses generation_config.json text held in memory; `fileName` is used in error messages.
    public init(bytes: [UInt8], fileName: String = "generation_config.json") throws {
        try self.init(root: HFJSONNode.parse(bytes: bytes, displayName: fileName))
    }

    init(root: HFJSONNode) throws {
        _ = try root.object()
        func nonNegativeID(_ node: HFJSONNode) throws -> Int {
            let id = try node.int()
            guard id >= 0 else { throw node.failure("token id \(id) is negative") }
            return id
        }
        bosTokenID = try root.optionalMember("bos_token_id").map(nonNegativeID)
        padTokenID = try root.optionalMember("pad_token_id").map(nonNegativeID)
        if let node = try root.optionalMember("eos_token_id") {
            if case .array = node.value {
                eosTokenIDs = try node.array().map(nonNegativeID)
            } else {
                eosTokenIDs = [try nonNegativeID(node)]
            }
        } else {
            eosTokenIDs = []
        }
        doSample = try root.optionalBool("do_sample")

        func number(_ key: String, _ valid: (Double) -> Bool, _ range: String) throws -> Double? {
            guard let node = try root.optionalMember(key) else { return nil }
            let v = try node.double()
            guard valid(v) else { throw node.failure("\(v) is outside \(range)") }
            return v
        }
        func count(_ key: String, minimum: Int) throws -> Int? {
            guard let node = try root.optionalMember(key) else { return nil }
            let v = try node.int()
            guard v >= minimum else { throw node.failure("\(v) is less than \(minimum)") }
            return v
        }
        temperature = try number("temperature", { $0 >= 0 }, "[0, ∞)")
        topP = try number("top_p", { $0 > 0 && $0 <= 1 }, "(0, 1]")
        repetitionPenalty = try number("repetition_penalty", { $0 > 0 }, "(0, ∞)")
        topK = try count("top_k", minimum: 0)
        maxNewTokens = try count("max_new_tokens", minimum: 0)
        maxLength = try count("max_length", minimum: 0)
    }
}
