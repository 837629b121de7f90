import ArgumentParser
import LoomHub

/// `loom pull REF`: fetch a model or adapter into the cache without running it (ollama's
/// `pull`); prints the local path on standard output.
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download a model or adapter (hf:OWNER/REPO[:QUANT|/FILE.gguf][@REV] or a catalog name) into the cache.",
        discussion: """
        Hub files go to the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else \
        ~/.cache/huggingface/hub), shared with Python tools. HF_ENDPOINT picks the hub and HF_TOKEN \
        authenticates. Interrupted downloads resume; every LFS file is checked against its SHA-256.
        """)

    @Argument(help: "The model reference.") var reference: String

    func run() throws {
        let path = try ModelLocator.resolve(reference)
        StandardOutput.write(path + "\n")
    }
}
