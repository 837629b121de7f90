import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomKernels

/// `loom quantize IN.gguf OUT.gguf TYPE`: quantise a GGUF model like llama-quantize.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantise a GGUF model (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K, TQ1_0, TQ2_0, F16, BF16, F32).",
        discussion: """
        Tensor types follow llama.cpp's llama-quantize: norms and other 1-D tensors keep their type, the \
        output tensor (or the token embedding when the two are tied) gets Q6_K, and the _M mixes give \
        attn_v and ffn_down more bits in some layers. Q3_K, Q4_K and Q5_K mean the _M mixes; use --pure \
        for one type everywhere. Rows that do not fit the block size fall back as in llama.cpp. \
        --ternary ternarises the projections of any model (e.g. `loom quantize model-f16.gguf out.gguf Q8_0 --ternary`). \
        Packed ternary tensors already in the input are kept as they are.
        """)

    @Argument(help: "Input GGUF file or model name.") var input: String
    @Argument(help: "Output GGUF file (written to a temporary file, then renamed).") var output: String
    @Argument(help: "Target type, e.g. Q4_K_M, Q8_0.") var type: String
    @Flag(name: .customLong("leave-output-tensor"), help: "Keep output.weight in its current type.") var leaveOutputTensor = false
    @Flag(name: .customLong("allow-requantize"), help: "Allow quantising tensors that are already quantised (loses accuracy twice).")
    var allowRequantize = false
    @Flag(help: "No mix rules: every quantisable tensor gets TYPE (with the block-size fallback).") var pure = false
    @Flag(help: ArgumentHelp(
        "Absmean-ternarise every per-layer projection (BitNet b1.58: W/mean|W| rounded and clipped to ±1, one scale per matrix).",
        discussion: "Projections go to TYPE when it is TQ1_0/TQ2_0 and their rows fit 256-element blocks, else to Loom's packed 2-bit layout (I8 codes + a .scale tensor, any row length; llama.cpp cannot run it). Embeddings, norms and the LM head follow TYPE. Without training the result is far worse than the base: see BENCHMARKS.md."))
    var ternary = false
    @Option(name: .short, parsing: .unconditional, help: "Threads (default: all cores).") var threads: Int?
    @Option(name: .customLong("tensor-type"), help: ArgumentHelp(
        "Force one tensor's type: NAME=TYPE (exact tensor name, e.g. blk.0.ffn_up.weight=TQ2_0); repeatable. No fallback: rows that do not fit TYPE's blocks are an error.",
        valueName: "name=type"))
    var tensorTypes: [String] = []

    /// `--tensor-type` values parsed (tensor name → type).
    func parsedTensorTypes() throws -> [String: GGMLType] {
        var result: [String: GGMLType] = [:]
        for item in tensorTypes {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty,
                  let type = GGMLType.allCases.first(where: { $0.description == parts[1].uppercased() }) else {
                throw ValidationError("--tensor-type '\(item)': expected NAME=TYPE with TYPE one of \(GGMLType.allCases.map(\.description).joined(separator: ", "))")
            }
            result[parts[0]] = type
        }
        return result
    }

    func validate() throws {
        guard QuantizationFileType(name: type) != nil else {
            throw ValidationError("unknown type '\(type)'; known: \(QuantizationFileType.names.joined(separator: ", "))")
        }
        if let threads, !(1...512).contains(threads) { throw ValidationError("-t must be between 1 and 512, got \(threads)") }
        _ = try parsedTensorTypes()
    }

    func run() throws {
        let fileType = QuantizationFileType(name: type)!
        let inputPath = try ModelLocator.resolve(input)
        var quantizer = GGUFQuantizer(fileType: fileType, threads: threads ?? ThreadPool.availableProcessors)
        quantizer.leaveOutputTensor = leaveOutputTensor
        quantizer.allowRequantize = allowRequantize
        quantizer.pure = pure
        quantizer.ternary = ternary
        quantizer.typeOverrides = try parsedTensorTypes()
        func err(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
        err("quantising \(inputPath) -> \(output) as \(fileType) with \(quantizer.threads) threads\n")
        let summary = try quantizer.quantize(input: inputPath, output: output) { p in
            let shape = p.dimensions.map(String.init).joined(separator: " x ")
            let action = p.from == p.to ? "\(p.from) copied" : "\(p.from) -> \(p.to)"
            err(String(format: "[%4d/%4d] ", p.index + 1, p.count) + p.name.padding(toLength: 36, withPad: " ", startingAt: 0)
                + " " + shape.padding(toLength: 14, withPad: " ", startingAt: 0) + " " + action
                + String(format: " (%.2f s)\n", p.seconds))
        }
        let types = summary.typeCounts.sorted { $0.value > $1.value }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
        err(String(format: "done: %d tensors (", summary.tensorCount) + types
            + String(format: "), %.1f MB -> %.1f MB of tensor data in %.1f s\n", Double(summary.inputBytes) / 1e6,
                     Double(summary.outputTensorBytes) / 1e6, summary.seconds))
    }
}
