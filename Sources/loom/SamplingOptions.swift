import ArgumentParser
import Foundation
import LoomGeneration
import LoomTokenizer

/// Sampling flags shared by generating commands (llama.cpp's names and defaults).
/// Flags that take negative numbers parse their value unconditionally, so `--top-k -1` works.
/// A flag left out takes the model's `generation_config.json` value where it has one (HF
/// directories), else llama.cpp's default.
struct SamplingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Most tokens to generate (default 256).") var maxTokens: Int?
    @Option(parsing: .unconditional, help: "Sampling temperature; 0 = greedy (default 0.8).") var temperature: Float?
    @Option(parsing: .unconditional, help: "Keep the K most likely tokens; 0 or -1 = off, K ≥ the vocabulary keeps all (default 40).") var topK: Int?
    @Option(parsing: .unconditional, help: "Nucleus sampling mass; 1 = off (default 0.95).") var topP: Float?
    @Option(parsing: .unconditional, help: "Drop tokens below this fraction of the best one's probability; 0 = off.") var minP: Float = 0.05
    @Option(parsing: .unconditional, help: "Penalty for repeating recent tokens; 1 = off (default 1).") var repeatPenalty: Float?
    @Option(parsing: .unconditional, help: "Penalty for tokens present in the history.") var presencePenalty: Float = 0
    @Option(parsing: .unconditional, help: "Penalty per occurrence in the history.") var frequencyPenalty: Float = 0
    @Option(parsing: .unconditional, help: "Random seed (default: random).") var seed: UInt64?
    @Option(name: .customLong("stop"), help: "Stop when this string appears (repeatable); it is not printed.")
    var stop: [String] = []
    @Flag(name: .customLong("context-shift"),
          help: "When prompt plus answer fill the context, drop the older half (after --keep tokens) and go on, as llama.cpp.")
    var contextShift = false
    @Option(name: .customLong("keep"), parsing: .unconditional,
            help: "Tokens at the start that --context-shift never drops; -1 = the whole prompt (default 0).")
    var keep: Int?
    @Option(help: "Constrain the output to a GBNF grammar (llama.cpp's format) given inline.")
    var grammar: String?
    @Option(help: "Constrain the output to the GBNF grammar in this file.")
    var grammarFile: String?
    @Option(help: "Constrain the output to JSON valid under the JSON Schema in this file.")
    var jsonSchema: String?

    func validate() throws {
        if let maxTokens, maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0, got \(maxTokens)") }
        // An empty stop string would match everywhere (or, ignored, surprise the user): refuse it.
        if keep != nil && !contextShift { throw ValidationError("--keep only applies with --context-shift") }
        if let keep, keep < -1 { throw ValidationError("--keep must be ≥ -1 (-1: the whole prompt), got \(keep)") }
        if stop.contains("") { throw ValidationError("--stop needs a non-empty string") }
        do { _ = try parameters(defaults: nil).validated() } catch { throw ValidationError("\(error)") }
        if [grammar, grammarFile, jsonSchema].compactMap({ $0 }).count > 1 {
            throw ValidationError("--grammar, --grammar-file and --json-schema exclude each other; give one")
        }
        // Compiled here too so that a bad grammar is reported before the model loads.
        _ = try compiledGrammar()
    }

    /// The grammar of `--grammar`, `--grammar-file` or `--json-schema`, if one is given.
    func compiledGrammar() throws -> Grammar? {
        func read(_ path: String, _ flag: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("\(flag): cannot read \(path)")
            }
            return String(decoding: data, as: UTF8.self)
        }
        do {
            if let grammar { return try Grammar(gbnf: grammar) }
            if let grammarFile { return try Grammar(gbnf: read(grammarFile, "--grammar-file")) }
            if let jsonSchema { return try JSONSchemaGrammar.grammar(forSchemaText: read(jsonSchema, "--json-schema")) }
        } catch let error as ValidationError {
            throw error
        } catch {
            let flag = grammar != nil ? "--grammar" : grammarFile != nil ? "--grammar-file \(grammarFile!)" : "--json-schema \(jsonSchema!)"
            throw ValidationError("\(flag): \(error)")
        }
        return nil
    }

    /// The sampler settings: flags first, then the model's generation config, then llama.cpp's defaults.
    func parameters(defaults: HFGenerationConfig?) -> SamplingParameters {
        var p = SamplingParameters()
        let greedyByDefault = defaults?.doSample == false
        p.temperature = temperature ?? (greedyByDefault ? 0 : defaults?.temperature.map(Float.init) ?? 0.8)
        p.topK = topK ?? defaults?.topK ?? 40
        p.topP = topP ?? defaults?.topP.map(Float.init) ?? 0.95
        p.minP = minP
        p.repetitionPenalty = repeatPenalty ?? defaults?.repetitionPenalty.map(Float.init) ?? 1
        p.presencePenalty = presencePenalty
        p.frequencyPenalty = frequencyPenalty
        p.seed = seed
        return p
    }

    func generationOptions(defaults: HFGenerationConfig? = nil) throws -> GenerationOptions {
        var options = GenerationOptions(maxTokens: maxTokens ?? defaults?.maxNewTokens ?? 256,
                                        sampling: parameters(defaults: defaults), stopStrings: stop, grammar: try compiledGrammar())
        if contextShift { options.contextShift = ContextShift(keep: keep ?? 0) }
        return options
    }
}
