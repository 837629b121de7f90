import ArgumentParser
import LoomGeneration

/// Sampling flags shared by generating commands (llama.cpp's names and defaults).
/// Flags that take negative numbers parse their value unconditionally, so `--top-k -1` works.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Most tokens to generate.") var maxTokens: Int = 256
    @Option(parsing: .unconditional, help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0.8
    @Option(parsing: .unconditional, help: "Keep the K most likely tokens; 0 or -1 = off.") var topK: Int = 40
    @Option(help: "Nucleus sampling mass; 1 = off.") var topP: Float = 0.95
    @Option(help: "Drop tokens below this fraction of the best one's probability; 0 = off.") var minP: Float = 0.05
    @Option(help: "Penalty for repeating recent tokens; 1 = off.") var repeatPenalty: Float = 1
    @Option(parsing: .unconditional, help: "Penalty for tokens present in the history.") var presencePenalty: Float = 0
    @Option(parsing: .unconditional, help: "Penalty per occurrence in the history.") var frequencyPenalty: Float = 0
    @Option(help: "Random seed (default: random).") var seed: UInt64?
    @Option(name: .customLong("stop"), help: "Stop when this string appears (repeatable); it is not printed.")
    var stop: [String] = []

    func validate() throws {
        if maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0, got \(maxTokens)") }
        do { _ = try parameters.validated() } catch { throw ValidationError("\(error)") }
    }

    var parameters: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature
        p.topK = topK
        p.topP = topP
        p.minP = minP
        p.repetitionPenalty = repeatPenalty
        p.presencePenalty = presencePenalty
        p.frequencyPenalty = frequencyPenalty
        p.seed = seed
        return p
    }

    var generationOptions: GenerationOptions {
        GenerationOptions(maxTokens: maxTokens, sampling: parameters, stopStrings: stop)
    }
}
