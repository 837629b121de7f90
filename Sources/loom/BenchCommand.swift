import ArgumentParser
import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels

/// `loom bench`: prompt-processing and generation speed, like llama-bench.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing (pp) and generation (tg) tokens/s.",
        discussion: """
        pp: one batch of -p tokens evaluated from an empty cache. tg: -n tokens generated one \
        at a time after nothing else (as llama-bench's tg test). With -d N both start with N \
        tokens already in the cache instead (llama-bench's -d; the N tokens are evaluated once, \
        untimed, and the cache is cut back to them before every run). Each test is repeated -r \
        times after one warm-up run; mean ± standard deviation and the median are reported.
        """)

    @Option(name: [.short, .customLong("model")], help: "GGUF file, model name or hf:OWNER/REPO[:QUANT][@REV] (default: smollm2).")
    var model: String?
    @Flag(help: "Use only cached hub files (as HF_HUB_OFFLINE=1); say what is missing instead of downloading.")
    var offline = false
    @Option(name: .short, parsing: .unconditional, help: "Prompt tokens for the pp test (0 = skip).") var p = 512
    @Option(name: .short, parsing: .unconditional, help: "Generated tokens for the tg test (0 = skip).") var n = 128
    @Option(name: .short, parsing: .unconditional, help: "Threads (default: all cores).") var t: Int?
    @Option(name: [.short, .customLong("depth")], parsing: .unconditional, help: "Tokens already in the cache when each test starts.") var d = 0
    @Option(name: .short, parsing: .unconditional, help: "Repetitions.") var r = 5
    @OptionGroup var lora: LoRAOptions
    @OptionGroup var rope: RopeOptions
    @OptionGroup var cache: CacheTypeOptions
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Keep activations in f32 (float kernels) instead of 10-bit integer codes, for decode and prompts, for comparison.")
    var floatActivations = false
    @Flag(inversion: .prefixedNo, help: "Batch-invariant products (the default; --no-batch-invariant for the small-batch kernels).")
    var batchInvariant = true
    @Option(parsing: .unconditional, help: .hidden) var decodePrefetch: Int?
    @Option(parsing: .unconditional, help: .hidden) var longRunPrefetch: Int?
    @Option(help: ArgumentHelp("Instead of benchmarking, write a random-weight F16 model at this shape to --output "
                               + "(\(BenchmarkShape.all.map(\.name).joined(separator: ", "))), with -m's tokenizer padded to the shape's vocabulary.",
                               valueName: "shape"))
    var writeShape: String?
    @Option(help: "Layers of the --write-shape model (default: the full model's).") var layers: Int?
    @Option(help: "Vocabulary of the --write-shape model (default: the shape's).") var vocabulary: Int?
    @Flag(help: "Tie the --write-shape model's LM head to its token embedding.") var tiedOutput = false
    @Option(name: [.short, .customLong("output")], help: "The file --write-shape writes.") var output: String?

    func validate() throws {
        // Upper bounds keep `d + max(p, n) + 1` far from overflow (release builds have no traps).
        let tokenLimit = 1 << 28
        guard (0...tokenLimit).contains(p), (0...tokenLimit).contains(n), p + n > 0 else {
            throw ValidationError("-p and -n must be in 0…\(tokenLimit) and not both 0, got -p \(p) -n \(n)")
        }
        guard (0...tokenLimit).contains(d) else { throw ValidationError("-d must be in 0…\(tokenLimit), got \(d)") }
        guard (1...10_000).contains(r) else { throw ValidationError("-r must be in 1…10000, got \(r)") }
        if let t, !(1...512).contains(t) { throw ValidationError("-t must be between 1 and 512, got \(t)") }
        for (flag, value) in [("--decode-prefetch", decodePrefetch), ("--long-run-prefetch", longRunPrefetch)] {
            if let value, !(0...(1 << 20)).contains(value) { throw ValidationError("\(flag) must be in 0…\(1 << 20) bytes, got \(value)") }
        }
        if let writeShape {
            guard BenchmarkShape.named(writeShape) != nil else {
                throw ValidationError("unknown shape '\(writeShape)'; one of \(BenchmarkShape.all.map(\.name).joined(separator: ", "))")
            }
            guard output != nil else { throw ValidationError("--write-shape needs --output FILE") }
            if let layers, !(1...1024).contains(layers) { throw ValidationError("--layers must be in 1…1024, got \(layers)") }
            if let vocabulary, !(1...(1 << 24)).contains(vocabulary) {
                throw ValidationError("--vocabulary must be in 1…\(1 << 24), got \(vocabulary)")
            }
        } else if layers != nil || output != nil || vocabulary != nil || tiedOutput {
            throw ValidationError("--layers, --vocabulary, --tied-output and --output go with --write-shape")
        }
    }

    /// `--write-shape`: the random-weight model, its tokenizer from -m (default smollm2).
    private func writeShapeModel(_ preset: BenchmarkShape, to output: String) throws {
        let shape = BenchmarkShape(
            name: preset.name, architecture: preset.architecture, hidden: preset.hidden, feedForward: preset.feedForward,
            heads: preset.heads, kvHeads: preset.kvHeads, vocabulary: vocabulary ?? preset.vocabulary,
            layers: preset.layers, tiedOutput: preset.tiedOutput || tiedOutput)
        let tokenizer = try GGUFFile(path: try ModelLocator.resolve(model))
        let layerCount = layers ?? shape.layers
        let start = Date()
        try shape.writeRandomModel(to: output, layers: layerCount, tokenizer: tokenizer)
        StandardError.print("wrote \(output): \(shape.name), \(layerCount) layers, vocabulary \(shape.vocabulary), F16, "
                            + String(format: "%.1f s", Date().timeIntervalSince(start)))
    }

    func run() throws {
        ModelLocator.goOffline(offline)
        if let writeShape, let shape = BenchmarkShape.named(writeShape), let output {
            return try writeShapeModel(shape, to: output)
        }
        var options = KernelOptions()
        options.integerActivations = !floatActivations
        options.batchInvariant = batchInvariant
        // Tuning knobs for the decode prefetch distances (bytes; 0 = off), hidden from help.
        if let decodePrefetch { options.decodePrefetchDistance = decodePrefetch }
        if let longRunPrefetch { options.longRunPrefetchDistance = longRunPrefetch }
        let path = try ModelLocator.resolve(model)
        let loadStart = Date()
        let overrides = rope.overrides
        let lm = try LanguageModel(path: path, rope: overrides)
        try lora.attach(to: lm, quiet: json)
        try cache.apply(to: lm)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let threads = t ?? ThreadPool.availableProcessors
        let contextLength = d + max(p, n) + 1
        // Past the trained context only with RoPE scaling (the model's or a flag), as a
        // long-context speed test (llama-bench -d) runs it.
        guard lm.contextWarning(context: contextLength, ropeOverridden: !overrides.isEmpty) == nil else {
            throw ValidationError("-d + max(-p, -n) = \(contextLength - 1) tokens exceed the model's context of \(lm.config.contextLength); "
                                  + "add a RoPE scaling (--rope-scaling yarn --rope-scale F, or --rope-theta) to run past it")
        }
        let session = try lm.makeSession(contextLength: contextLength, pool: ThreadPool(threadCount: threads), options: options)
        // Deterministic pseudo-random tokens, avoiding ids that might be special.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let vocab = lm.config.vocabularySize
        let tokens = (0..<(d + max(p, 1))).map { _ -> Int in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % (vocab / 2) + 100
        }
        let prompt = Array(tokens[d...])
        if d > 0 { try session.evaluate(Array(tokens[..<d])) }
        /// Back to the `d` untimed context tokens (none without -d).
        func rewind() { session.truncate(to: d) }
        func timePP() throws -> Double {
            rewind()
            let start = Date()
            try session.evaluate(Array(prompt.prefix(p)))
            return Double(p) / Date().timeIntervalSince(start)
        }
        func timeTG() throws -> Double {
            rewind()
            var token = prompt[0]
            let start = Date()
            for _ in 0..<n {
                let logits = try session.evaluate([token])
                token = VectorOps.argmax(logits.baseAddress!, count: logits.count)
            }
            return Double(n) / Date().timeIntervalSince(start)
        }
        var results: [String: Any] = [
            "model": (path as NSString).lastPathComponent, "threads": threads, "load_seconds": loadSeconds, "depth": d,
        ]
        if p > 0 {
            _ = try timePP()
            results["pp"] = Stats(try (0..<r).map { _ in try timePP() }).dictionary(tokens: p)
        }
        if n > 0 {
            _ = try timeTG()
            results["tg"] = Stats(try (0..<r).map { _ in try timeTG() }).dictionary(tokens: n)
        }
        results["peak_rss_bytes"] = peakResidentBytes()
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys])
            StandardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            StandardOutput.write("model \(results["model"]!), \(threads) threads, load \(String(format: "%.2f", loadSeconds)) s, peak RSS \(peakResidentBytes() / 1_000_000) MB\n")
            for key in ["pp", "tg"] {
                if let s = results[key] as? [String: Any] {
                    let depth = d > 0 ? " @ d\(d)" : ""
                    StandardOutput.write(String(format: "%@%d%@: %.2f ± %.2f tokens/s (median %.2f)\n", key, s["tokens"] as! Int,
                                                depth, s["mean"] as! Double, s["sd"] as! Double, s["median"] as! Double))
                }
            }
        }
    }
}

/// Mean, standard deviation and median of repeated measurements.
struct Stats {
    let samples: [Double]
    init(_ samples: [Double]) { self.samples = samples }
    var mean: Double { samples.reduce(0, +) / Double(samples.count) }
    var sd: Double {
        guard samples.count > 1 else { return 0 }
        let m = mean
        return (samples.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(samples.count - 1)).squareRoot()
    }
    var median: Double {
        let s = samples.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    func dictionary(tokens: Int) -> [String: Any] {
        ["tokens": tokens, "mean": mean, "sd": sd, "median": median, "samples": samples]
    }
}

/// The process's peak resident set size in bytes.
///
/// On Linux this is `VmHWM` from /proc/self/status: `getrusage`'s `ru_maxrss` survives
/// fork and exec, so a process started by a large parent (a Python benchmark driver)
/// would report the parent's peak instead of its own.
func peakResidentBytes() -> Int {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kB = Int(line.split(separator: " ").dropFirst().first ?? "") {
        return kB * 1024
    }
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
    #else
    var usage = rusage()
    getrusage(RUSAGE_SELF, &usage)
    return usage.ru_maxrss
    #endif
}
