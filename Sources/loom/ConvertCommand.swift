import ArgumentParser
import Foundation
import LoomFormats
import LoomKernels

/// `loom convert HF_DIR -o OUT.gguf --type f16`: Hugging Face directory → GGUF (HF BitNet
/// checkpoints also to tq1_0/tq2_0, keeping every ternary weight).
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Hugging Face directory (Llama, Qwen2, Phi-3, Mistral, BitNet) to GGUF.",
        discussion: """
        Like llama.cpp's convert_hf_to_gguf.py: GGUF tensor names, llama Q/K permutation, norms and \
        biases in F32, hyper-parameters, rope_freqs for Llama 3.1 scaling, and the tokenizer.json \
        vocabulary, merges, special tokens and chat template when present. HF BitNet checkpoints \
        (quant_method bitnet) are written unpacked as ternary × scale; with --type tq1_0 or tq2_0 \
        their ternary matrices become TQ blocks (exact where rows are multiples of 256, else Loom's packed 2-bit layout) \
        and the other matrices F16.
        """)

    @Argument(help: "Directory with config.json and model.safetensors (or a sharded index).") var directory: String
    @Option(name: .shortAndLong, help: "Output GGUF file.") var output: String
    @Option(help: "Matrix type: f32, f16, bf16, q8_0, or for HF BitNet checkpoints tq1_0/tq2_0.") var type = "f16"
    @Option(help: "tokenizer.ggml.pre to write (default: from the architecture).") var pre: String?

    func run() throws {
        let types: [String: GGMLType] = ["f32": .f32, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0, "tq1_0": .tq1_0, "tq2_0": .tq2_0]
        guard let t = types[type.lowercased()] else { throw ValidationError("--type must be one of f32, f16, bf16, q8_0, tq1_0, tq2_0") }
        let start = Date()
        let count = try HFToGGUFConverter(outputType: t, preTokenizer: pre).convert(directory: directory, output: output)
        FileHandle.standardError.write(Data(String(format: "converted %d tensors to %@ (%@) in %.1f s\n", count, output, t.description,
                                                   Date().timeIntervalSince(start)).utf8))
    }
}
