/// A LoRA adapter the server attaches at start (``ServerConfiguration/loraAdapters``).
public struct ServedLoRA: Sendable, Equatable {
    /// The model name that selects it (vLLM `--lora-modules name=path`), or nil for an
    /// adapter applied to every request (llama.cpp `--lora`).
    public var name: String?
    /// PEFT directory or GGUF LoRA file.
    public var path: String
    /// Scale for every request (unnamed adapters); a named one runs at 1 when selected.
    public var scale: Float

    public init(name: String? = nil, path: String, scale: Float = 1) {
        self.name = name
        self.path = path
        self.scale = scale
    }
}
