import ArgumentParser
import LoomModels

/// `--lora PATH` and `--lora-scaled PATH:SCALE` (llama.cpp's names), repeatable: LoRA adapters
/// (PEFT directories or GGUF LoRA files) applied unmerged on top of the model, in order.
struct LoRAOptions: ParsableArguments {
    @Option(name: .customLong("lora"), help: ArgumentHelp("LoRA adapter to apply (PEFT directory, GGUF LoRA file or hf:OWNER/REPO[@REV]); repeatable.", valueName: "path"))
    var paths: [String] = []
    @Option(name: .customLong("lora-scaled"), help: ArgumentHelp("LoRA adapter with a scale; repeatable.", valueName: "path:scale"))
    var scaled: [String] = []

    /// Every adapter with its scale: the `--lora` ones (scale 1) first, then `--lora-scaled`.
    func adapters() throws -> [(path: String, scale: Float)] {
        try paths.map { ($0, 1) } + scaled.map(Self.parseScaled)
    }

    func validate() throws {
        _ = try adapters()
    }

    /// `adapters()` with `hf:` references fetched (or found in the cache) and replaced by paths.
    func resolvedAdapters() throws -> [(path: String, scale: Float)] {
        try adapters().map { (try ModelLocator.adapterPath($0.path), $0.scale) }
    }

    /// `PATH:SCALE`, split at the last colon (paths may contain colons).
    static func parseScaled(_ text: String) throws -> (path: String, scale: Float) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError("--lora-scaled '\(text)' must be PATH:SCALE, e.g. adapter.gguf:0.5")
        }
        let path = String(text[..<colon]), number = String(text[text.index(after: colon)...])
        guard !path.isEmpty else { throw ValidationError("--lora-scaled '\(text)' has no path before the colon") }
        guard let scale = Float(number), scale.isFinite else {
            throw ValidationError("--lora-scaled '\(text)': '\(number)' is not a number")
        }
        return (path, scale)
    }

    /// Loads and attaches every adapter to `model`, printing one line per adapter to standard error.
    func attach(to model: LanguageModel, quiet: Bool = false) throws {
        for (path, scale) in try resolvedAdapters() {
            let id = try model.loadLoRA(path: path, scale: scale)
            if !quiet {
                let count = model.loraAdapters.first { $0.id == id }?.tensorNames.count ?? 0
                StandardError.print("LoRA \(id): \(path) (scale \(scale), \(count) tensors)")
            }
        }
    }
}
