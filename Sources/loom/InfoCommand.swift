import ArgumentParser
import Foundation
import LoomFormats
import LoomKernels
import LoomModels

/// `loom info`: what a model file holds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a model's architecture, hyper-parameters, tokenizer, template and tensors.")

    @Argument(help: "GGUF file or model name (default: smollm2).") var model: String?
    @Flag(help: "Also list every metadata key and every tensor.") var verbose = false

    func run() throws {
        let path = try ModelStore().resolve(model, progress: .terminal)
        let lm = try LanguageModel(path: path)
        let file = lm.file
        let c = lm.config
        var out = ""
        func line(_ key: String, _ value: Any) { out += key.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(value)\n" }
        line("file", path)
        line("size", String(format: "%.1f MB", Double(file.fileSize) / 1e6))
        line("name", c.name)
        line("architecture", c.architecture.rawValue)
        line("layers", c.layerCount)
        line("embedding", c.embeddingSize)
        line("feed-forward", c.feedForwardSize)
        line("heads (query / kv)", "\(c.headCount) / \(c.kvHeadCount), head size \(c.headDim)")
        line("rope", "θ = \(c.ropeBase), \(c.ropeDimensions) dims, \(c.ropeLayout == .adjacent ? "adjacent pairs" : "half split")" +
             (c.ropePositionScale != 1 ? ", linear scale \(c.ropePositionScale)" : "") +
             (lm.weights.ropeFrequencyFactors != nil ? ", rope_freqs" : ""))
        line("rms epsilon", c.rmsEpsilon)
        line("context (trained)", c.contextLength)
        line("vocabulary", c.vocabularySize)
        line("output", lm.weights.tiedOutput ? "tied to token embedding" : "separate")
        let t = lm.tokenizer
        line("tokenizer", "\(file["tokenizer.ggml.model"]?.stringValue ?? "?"), pre '\(file["tokenizer.ggml.pre"]?.stringValue ?? "default")'")
        line("special tokens", "bos \(t.bosID.map { "\($0) \(t.piece($0))" } ?? "none"), eos \(t.eosID.map { "\($0) \(t.piece($0))" } ?? "none"), adds BOS: \(t.addsBOS)")
        line("end of generation", t.endOfGenerationIDs.sorted().map { "\($0) \(t.piece($0))" }.joined(separator: ", "))
        var byType: [GGMLType: (count: Int, bytes: Int)] = [:]
        for tensor in file.tensors { byType[tensor.type, default: (0, 0)].count += 1; byType[tensor.type]!.bytes += tensor.byteCount }
        let types = byType.sorted { $0.value.bytes > $1.value.bytes }
            .map { String(format: "%@ ×%d (%.1f MB)", $0.key.description, $0.value.count, Double($0.value.bytes) / 1e6) }
        line("tensors", "\(file.tensors.count): " + types.joined(separator: ", "))
        let params = file.tensors.reduce(0) { $0 + $1.elementCount }
        line("parameters", String(format: "%.1f M", Double(params) / 1e6))
        line("bytes per token", String(format: "%.1f MB read per generated token", Double(lm.weights.bytesPerToken) / 1e6))
        if let template = lm.chatTemplate {
            out += "chat template:\n" + template.split(separator: "\n", omittingEmptySubsequences: false).prefix(verbose ? .max : 12)
                .map { "    " + $0 }.joined(separator: "\n") + "\n"
        } else {
            line("chat template", "none")
        }
        if verbose {
            out += "metadata:\n"
            for key in file.metadataKeys {
                let value = file[key]!
                let shown: String
                if let array = value.arrayValue { shown = "array of \(array.count)" } else { shown = "\(value)".prefix(100).description }
                out += "    \(key) = \(shown)\n"
            }
            out += "tensors:\n"
            for tensor in file.tensors {
                out += "    \(tensor.name) \(tensor.type) \(tensor.dimensions) \(tensor.byteCount) bytes\n"
            }
        }
        StandardOutput.write(out)
    }
}
