import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomTokenizer

/// `loom export-lora -m BASE --lora A [--lora-scaled B:S] -o OUT [--type q8_0]`: LoRA adapters
/// merged into a deployable model (llama.cpp's `llama-export-lora`).
struct ExportLoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-lora",
        abstract: "Merge LoRA adapters into a GGUF model; write a .gguf file or a Hugging Face directory.",
        discussion: """
        Adapted tensors become W + scale·(alpha/r)·B·A (DoRA: rescaled per row as PEFT merges \
        it), stored as F16 (--type f32 keeps F32); every other tensor is copied unchanged. \
        --type with a quantisation (q8_0, q4_k_m, …) requantises the merged file as `loom \
        quantize` does. An OUT that does not end in .gguf is written as a Hugging Face \
        directory (safetensors + config + tokenizer). Files are written atomically.
        """)

    @Option(name: [.short, .customLong("model")], help: "Base GGUF file or model name (default: smollm2).")
    var model: String?
    @OptionGroup var lora: LoRAOptions
    @Option(name: .shortAndLong, help: "Output .gguf file, or a directory for Hugging Face safetensors.")
    var output: String
    @Option(help: "Output type: f16 (default), f32, or a quantisation such as q8_0 (.gguf only).")
    var type = "f16"
    @Option(name: .short, parsing: .unconditional, help: "Threads for requantising (default: all cores).") var threads: Int?

    var writesGGUF: Bool { output.lowercased().hasSuffix(".gguf") }

    func validate() throws {
        guard !lora.paths.isEmpty || !lora.scaled.isEmpty else { throw ValidationError("give at least one --lora or --lora-scaled adapter") }
        let lower = type.lowercased()
        guard lower == "f16" || lower == "f32" || QuantizationFileType(name: type) != nil else {
            throw ValidationError("--type must be f16, f32 or one of \(QuantizationFileType.names.joined(separator: ", ")), got '\(type)'")
        }
        if !writesGGUF, lower != "f16", lower != "f32" { throw ValidationError("--type \(type) needs a .gguf output") }
        if let threads, !(1...512).contains(threads) { throw ValidationError("-t must be between 1 and 512, got \(threads)") }
    }

    func run() throws {
        let base = try LoRABaseModel(model)
        let adapters = try lora.resolvedAdapters().map { (try base.adapter($0.path, in: .gguf), $0.scale) }
        let lower = type.lowercased()
        let quantized = QuantizationFileType(name: type).flatMap { lower == "f16" || lower == "f32" ? nil : $0 }
        let merger = LoRAMerger(mergedType: lower == "f32" || !writesGGUF ? .f32 : .f16)
        let mergedPath = writesGGUF && quantized == nil ? output
            : NSTemporaryDirectory() + "loom-export-lora-\(getpid())-\(UUID().uuidString).gguf"
        defer { if mergedPath != output { try? FileManager.default.removeItem(atPath: mergedPath) } }
        let summary = try merger.merge(base: base.file, adapters: adapters, output: mergedPath)
        if summary.baseWasQuantized {
            StandardError.print("warning: the base model is quantised; merged tensors keep its rounding (merge into an F16/F32 base for the best result)")
        }
        StandardError.print("merged \(adapters.count) adapter(s) into \(summary.mergedTensors.count) tensors")
        if let quantized {
            var quantizer = GGUFQuantizer(fileType: quantized, threads: threads ?? ThreadPool.availableProcessors)
            quantizer.allowRequantize = true
            let result = try quantizer.quantize(input: mergedPath, output: output)
            StandardError.print(String(format: "requantised as %@: %d tensors in %.1f s", "\(quantized)", result.tensorCount, result.seconds))
        } else if !writesGGUF {
            let dtype: SafetensorsDType = lower == "f32" ? .f32 : .f16
            let count = try GGUFToHFExporter(dtype: dtype).export(gguf: mergedPath, to: output)
            let tokenizerJSON = try HFTokenizerJSONWriter.tokenizerJSON(gguf: GGUFFile(path: mergedPath))
            try GGUFToHFExporter.writeData(tokenizerJSON, to: (output as NSString).appendingPathComponent("tokenizer.json"))
            StandardError.print("exported \(count) tensors to \(output)")
        }
        StandardError.print("wrote \(output)")
    }
}
