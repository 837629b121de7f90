import ArgumentParser

/// The `loom` command-line tool.
@main
struct Loom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loom",
        abstract: "Run, inspect and benchmark Llama-3 and Qwen2 language models on the CPU.",
        discussion: """
        MODEL is a GGUF file path, a known model name (smollm2, qwen2.5-0.5b) or a Hugging Face \
        reference hf:OWNER/REPO[:QUANT|/FILE.gguf][@REVISION]; without -m the default model \
        (SmolLM2-135M-Instruct) is fetched on first use and cached in ~/.cache/loom. Hub models go \
        to the Hugging Face cache (see `loom pull`, `list`, `show`, `rm`).
        """,
        subcommands: [
            RunCommand.self, ChatCommand.self, TemplateCommand.self, ServeCommand.self, TokenizeCommand.self,
            DetokenizeCommand.self, EmbedCommand.self, InfoCommand.self, BenchCommand.self, PerplexityCommand.self, EvalCommand.self,
            QuantizeCommand.self, ConvertCommand.self, ExportHFCommand.self, ExportLoRACommand.self, ConvertLoRACommand.self,
            FinetuneCommand.self, DataCommand.self, PullCommand.self, ListCommand.self, ShowCommand.self, RmCommand.self,
        ],
        defaultSubcommand: RunCommand.self)
}
