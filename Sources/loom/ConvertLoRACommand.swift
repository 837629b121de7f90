import ArgumentParser
import Foundation
import LoomFormats
import LoomHub

/// `loom convert-lora IN -m BASE -o OUT`: a PEFT directory to a llama.cpp GGUF LoRA, or back.
struct ConvertLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert-lora",
        abstract: "Convert a LoRA adapter: PEFT directory → GGUF LoRA (llama.cpp), or GGUF LoRA → PEFT directory.",
        discussion: """
        The direction follows OUT: a name ending in .gguf gets a GGUF LoRA (F32, or --type f16), \
        anything else a PEFT directory (adapter_config.json + adapter_model.safetensors). The base \
        model supplies the architecture and head counts: llama's Q/K rows are permuted for GGUF \
        the way llama.cpp's converters do. rsLoRA and per-module ranks/alphas keep their exact \
        scales. DoRA adapters cannot be written as GGUF LoRA (merge them with export-lora).
        """)

    @Argument(help: "Adapter to convert: PEFT directory, GGUF LoRA file or hf:OWNER/REPO[@REV].") var input: String
    @Option(name: [.short, .customLong("model")], help: "Base GGUF model or model name (default: smollm2).")
    var model: String?
    @Option(name: .shortAndLong, help: "Output: a .gguf file, or a directory for PEFT.") var output: String
    @Option(help: "GGUF tensor type: f32 (default) or f16.") var type = "f32"

    func validate() throws {
        guard ["f32", "f16"].contains(type.lowercased()) else { throw ValidationError("--type must be f32 or f16, got '\(type)'") }
    }

    func run() throws {
        let base = try LoRABaseModel(model)
        let count: Int
        if output.lowercased().hasSuffix(".gguf") {
            let adapter = try base.adapter(ModelLocator.adapterPath(input), in: .gguf)
            try adapter.writeGGUF(to: output, architecture: base.architectureName, type: type.lowercased() == "f16" ? .f16 : .f32)
            count = adapter.modules.count
        } else {
            let adapter = try base.adapter(ModelLocator.adapterPath(input), in: .huggingFace)
            try adapter.writePEFT(to: output, naming: base.architecture.tensorNames, layerCount: base.layerCount)
            count = adapter.modules.count
        }
        StandardError.print("wrote \(count) LoRA modules to \(output)")
    }
}
