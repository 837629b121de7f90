import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomTokenizer

/// `loom export-hf IN.gguf -o DIR`: a llama/qwen2 GGUF as a Hugging Face directory.
struct ExportHFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-hf",
        abstract: "Export a llama/qwen2 GGUF model as a Hugging Face directory (safetensors + config).",
        discussion: """
        Writes model.safetensors (dequantised; llama q/k rows back in HF order), config.json, \
        generation_config.json, tokenizer.json and tokenizer_config.json with the chat template.
        """)

    @Argument(help: "GGUF file or model name.") var input: String
    @Option(name: .shortAndLong, help: "Output directory.") var output: String
    @Option(help: "Matrix dtype: f32, f16 or bf16.") var dtype = "f32"

    func run() throws {
        let types: [String: SafetensorsDType] = ["f32": .f32, "f16": .f16, "bf16": .bf16]
        guard let d = types[dtype.lowercased()] else { throw ValidationError("--dtype must be f32, f16 or bf16") }
        let path = try ModelLocator.resolve(input)
        let count = try GGUFToHFExporter(dtype: d).export(gguf: path, to: output)
        let tokenizerJSON = try HFTokenizerJSONWriter.tokenizerJSON(gguf: GGUFFile(path: path))
        try GGUFToHFExporter.writeData(tokenizerJSON, to: (output as NSString).appendingPathComponent("tokenizer.json"))
        FileHandle.standardError.write(Data("exported \(count) tensors to \(output)\n".utf8))
    }
}
