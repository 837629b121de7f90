import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels

/// `loom info`: what a model file holds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a model's architecture, hyper-parameters, tokenizer, template and tensors.")

    @Argument(help: "GGUF file, HF model directory, model name or hf:OWNER/REPO[:QUANT][@REV] (default: smollm2).") var model: String?
    @Flag(help: "Use only cached hub files (as HF_HUB_OFFLINE=1).") var offline = false
    @Flag(help: "Also list every metadata key and every tensor.") var verbose = false
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Print the memory plan for this context length (per slot).")
    var contextLength: Int?
    @Option(parsing: .unconditional, help: "Slots for the memory plan, as `serve --parallel` (default 1).") var parallel = 1
    @OptionGroup var cache: CacheTypeOptions

    func validate() throws {
        if let contextLength, contextLength < 1 { throw ValidationError("--ctx must be positive, got \(contextLength)") }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must be in 1…64, got \(parallel)") }
    }

    func run() throws {
        ModelLocator.goOffline(offline)
        let path = try ModelLocator.resolve(model)
        StandardOutput.write(try Self.report(path: path, verbose: verbose, contextLength: contextLength, parallel: parallel,
                                             cacheTypes: cache.types))
    }

    /// What `info` prints for the model at `path` (also the head of `loom show`).
    static func report(path: String, verbose: Bool, contextLength: Int?, parallel: Int,
                       cacheTypes: KVCacheTypes = .default) throws -> String {
        let lm = try LanguageModel(path: path)
        let tensors = Self.tensors(of: lm)
        let c = lm.config
        var out = ""
        func line(_ key: String, _ value: Any) { out += key.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(value)\n" }
        line("file", path)
        line("format", lm.file != nil ? "GGUF" : "Hugging Face (safetensors, \(lm.checkpoint?.files.count ?? 0) file(s))")
        line("size", String(format: "%.1f MB of weights", Double(tensors.reduce(0) { $0 + $1.bytes }) / 1e6))
        line("name", c.name)
        line("architecture", c.architecture.name)
        line("layers", c.layerCount)
        line("embedding", c.embeddingSize)
        line("feed-forward", c.feedForwardSize)
        line("heads (query / kv)", "\(c.headCount) / \(c.kvHeadCount), head size \(c.headDim)")
        line("rope", "θ = \(c.ropeBase), \(c.ropeDimensions) dims, \(c.ropeLayout == .adjacent ? "adjacent pairs" : "half split")" +
             (c.ropePositionScale != 1 ? ", linear scale \(c.ropePositionScale)" : "") +
             (lm.weights.ropeFrequencyFactors != nil ? ", rope_freqs" : "") +
             (c.ropeYarn.map { ", YaRN ×\($0.factor) of \($0.originalContext)" } ?? "") +
             (c.ropeDynamic.map { ", \($0.typeName) past \($0.originalContext)" } ?? ""))
        line("rms epsilon", c.rmsEpsilon)
        line("context (trained)", c.contextLength)
        line("vocabulary", c.vocabularySize)
        line("output", lm.weights.tiedOutput ? "tied to token embedding" : "separate")
        let t = lm.tokenizer
        line("tokenizer", "byte-level BPE, pre '\(t.preTokenizer.rawValue)'")
        line("special tokens", "bos \(t.bosID.map { "\($0) \(t.piece($0))" } ?? "none"), eos \(t.eosID.map { "\($0) \(t.piece($0))" } ?? "none"), adds BOS: \(t.addsBOS)")
        line("end of generation", t.endOfGenerationIDs.sorted().map { "\($0) \(t.piece($0))" }.joined(separator: ", "))
        var byType: [String: (count: Int, bytes: Int)] = [:]
        for tensor in tensors { byType[tensor.type, default: (0, 0)].count += 1; byType[tensor.type]!.bytes += tensor.bytes }
        let types = byType.sorted { $0.value.bytes > $1.value.bytes }
            .map { String(format: "%@ ×%d (%.1f MB)", $0.key, $0.value.count, Double($0.value.bytes) / 1e6) }
        line("tensors", "\(tensors.count): " + types.joined(separator: ", "))
        // Packed ternary tensors (I8, TernaryGGUFLayout) hold four weights per stored byte.
        let params = tensors.reduce(0) { $0 + $1.dimensions.reduce(1, *) * ($1.type == "I8" ? 4 : 1) }
        line("parameters", String(format: "%.1f M", Double(params) / 1e6))
        line("bytes per token", String(format: "%.1f MB read per generated token", Double(lm.weights.bytesPerToken) / 1e6))
        if let contextLength {
            try cacheTypes.check(headDim: c.headDim, path: path)
            let plan = try lm.memoryEstimate(contextLength: contextLength, slots: parallel,
                                             weightBytes: tensors.reduce(0) { $0 + $1.bytes }, cacheTypes: cacheTypes)
            func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
            let slots = "\(contextLength) positions × \(parallel) slot\(parallel == 1 ? "" : "s")"
            let kv = "KV cache \(mb(plan.kvCacheBytes)) (\(plan.cacheTypes))"
            let fits = plan.fits ? "" : " — does not fit: commands with this --ctx are refused"
            line("memory plan", "\(slots): weights \(mb(plan.weightBytes)) (mapped), \(kv), scratch \(mb(plan.scratchBytes)), "
                 + "total \(mb(plan.totalBytes)) of \(mb(plan.availableBytes))" + fits)
        }
        if let template = lm.chatTemplate {
            out += "chat template:\n" + template.split(separator: "\n", omittingEmptySubsequences: false).prefix(verbose ? .max : 12)
                .map { "    " + $0 }.joined(separator: "\n") + "\n"
        } else {
            line("chat template", "none")
        }
        if verbose, let file = lm.file {
            out += "metadata:\n"
            for key in file.metadataKeys {
                let value = file[key]!
                let shown: String
                if let array = value.arrayValue { shown = "array of \(array.count)" } else { shown = "\(value)".prefix(100).description }
                out += "    \(key) = \(shown)\n"
            }
        }
        if verbose {
            out += "tensors:\n"
            for tensor in tensors {
                out += "    \(tensor.name) \(tensor.type) \(tensor.dimensions) \(tensor.bytes) bytes\n"
            }
        }
        return out
    }

    /// Name, type, ggml-order dimensions and size of every tensor, from either kind of input.
    static func tensors(of lm: LanguageModel) -> [(name: String, type: String, dimensions: [Int], bytes: Int)] {
        if let file = lm.file {
            return file.tensors.map { ($0.name, $0.type.description, $0.dimensions, $0.byteCount) }
        }
        guard let checkpoint = lm.checkpoint else { return [] }
        return checkpoint.tensorNames.compactMap { name in
            checkpoint.tensor(named: name).map { (name, $0.info.dtype.rawValue.uppercased(), $0.info.shape.reversed(), $0.info.byteCount) }
        }
    }
}
