import Foundation

/// The files of a Hugging Face tokenizer, located and parsed, and the `BPETokenizer` arguments
/// they amount to. Shared by `BPETokenizer.init(huggingFace:)` and `HFTokenizerBundle.load`.
struct HFTokenizerSource {
    let file: HFTokenizerFile
    let config: HFTokenizerConfig?
    let generation: HFGenerationConfig?
    /// The chat template: tokenizer_config.json's, else `chat_template.jinja` in the directory.
    let chatTemplate: String?

    // BPETokenizer arguments.
    let bosID: Int?
    let eosID: Int?
    let eotID: Int?
    let eomID: Int?
    let addBOS: Bool
    let addEOS: Bool
    /// Every id that ends generation according to the files (eos of both configs).
    let declaredEndOfGenerationIDs: Set<Int>
    let warnings: [String]

    /// Loads from a `tokenizer.json` path or a directory holding one. The companion files
    /// (`tokenizer_config.json`, `generation_config.json`, `chat_template.jinja`) are read from
    /// the directory when present, also when the path names a file called `tokenizer.json`.
    init(path: String) throws {
        let expanded = (path as NSString).expandingTildeInPath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory) else {
            throw TokenizerError.invalidFile(file: path, path: "", reason: "no such file or directory")
        }
        let tokenizerPath: String
        let companionDirectory: String?
        if isDirectory.boolValue {
            tokenizerPath = (expanded as NSString).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerPath) else {
                throw TokenizerError.invalidFile(file: "tokenizer.json", path: "",
                                                 reason: "not found in \(expanded) (only fast-tokenizer directories are supported)")
            }
            companionDirectory = expanded
        } else {
            tokenizerPath = expanded
            companionDirectory = (expanded as NSString).lastPathComponent == "tokenizer.json"
                ? (expanded as NSString).deletingLastPathComponent : nil
        }
        func companion(_ name: String) -> String? {
            guard let dir = companionDirectory else { return nil }
            let p = (dir as NSString).appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: p) ? p : nil
        }
        let file = try HFTokenizerFile(path: tokenizerPath)
        let config = try companion("tokenizer_config.json").map { try HFTokenizerConfig(path: $0) }
        let generation = try companion("generation_config.json").map { try HFGenerationConfig(path: $0) }
        var template = config?.chatTemplate
        if template == nil, let jinja = companion("chat_template.jinja") {
            do {
                template = try String(contentsOfFile: jinja, encoding: .utf8)
            } catch {
                throw TokenizerError.invalidFile(file: "chat_template.jinja", path: "", reason: "cannot read: \(error.localizedDescription)")
            }
        }
        try self.init(file: file, config: config, generation: generation, chatTemplate: template)
    }

    /// Combines parsed files into tokenizer arguments.
    init(file: HFTokenizerFile, config: HFTokenizerConfig?, generation: HFGenerationConfig?, chatTemplate: String?) throws {
        self.file = file
        self.config = config
        self.generation = generation
        self.chatTemplate = chatTemplate
        var warnings = [String]()
        let n = file.tokens.count

        // Token text → id, preferring the first id (as the added-vocabulary matcher does).
        var idOfText = [String: Int](minimumCapacity: n)
        for (id, text) in file.tokens.enumerated() where idOfText[text] == nil { idOfText[text] = id }
        let configIDs = try config?.resolveSpecialIDs({ idOfText[$0] }) ?? (bos: nil, eos: nil)

        // BOS/EOS: the post-processor's template tokens are what HF adds; tokenizer_config's
        // add_bos_token/add_eos_token, when stated, override whether they are added.
        if let prefix = file.prefixTokenID, let bos = configIDs.bos, bos != prefix {
            warnings.append("the post-processor adds \(file.tokens[prefix].debugDescription) but tokenizer_config.json's bos_token is \(file.tokens[bos].debugDescription); using the post-processor's")
        }
        bosID = file.prefixTokenID ?? configIDs.bos
        eosID = file.suffixTokenID ?? configIDs.eos
        addBOS = config?.addBOSToken ?? (file.prefixTokenID != nil)
        addEOS = config?.addEOSToken ?? (file.suffixTokenID != nil)
        if addBOS && bosID == nil {
            throw TokenizerError.invalidFile(file: "tokenizer_config.json", path: "add_bos_token",
                                             reason: "BOS is to be added but neither bos_token nor the post-processor names a BOS token")
        }
        if addEOS && eosID == nil {
            throw TokenizerError.invalidFile(file: "tokenizer_config.json", path: "add_eos_token",
                                             reason: "EOS is to be added but neither eos_token nor the post-processor names an EOS token")
        }

        // End of generation: the configs' eos ids, like transformers' generate.
        var declared = Set<Int>()
        if let eos = eosID { declared.insert(eos) }
        if let eos = configIDs.eos { declared.insert(eos) }
        if let generation {
            for (i, id) in generation.eosTokenIDs.enumerated() {
                guard id < n else {
                    throw TokenizerError.invalidFile(file: "generation_config.json", path: "eos_token_id[\(i)]",
                                                     reason: "id \(id) is outside the vocabulary (0..<\(n))")
                }
                declared.insert(id)
            }
            if let bos = generation.bosTokenID, bos >= n {
                throw TokenizerError.invalidFile(file: "generation_config.json", path: "bos_token_id",
                                                 reason: "id \(bos) is outside the vocabulary (0..<\(n))")
            }
        }
        declaredEndOfGenerationIDs = declared
        // BPETokenizer derives its end-of-generation set from eos/eot/eom and from token texts;
        // ids the texts do not already cover travel in the eot and eom slots.
        let extra = declared.subtracting(eosID.map { [$0] } ?? [])
            .filter { !BPETokenizer.endOfGenerationTexts.contains(file.tokens[$0]) }
            .sorted()
        eotID = extra.count > 0 ? extra[0] : nil
        eomID = extra.count > 1 ? extra[1] : nil
        if extra.count > 2 {
            warnings.append("end-of-generation ids \(extra.dropFirst(2).map(String.init).joined(separator: ", ")) are not in BPETokenizer.endOfGenerationIDs; use HFTokenizerBundle.endOfGenerationIDs")
        }
        self.warnings = warnings
    }
}
