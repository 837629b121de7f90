import Foundation
import LoomGeneration
import LoomKernels
import LoomModels

/// Settings of a needle-in-a-haystack grid.
public struct NeedleOptions: Sendable {
    /// Prompt lengths in tokens (haystack + needle + question in the chat format).
    public var lengths: [Int]
    /// Relative depths 0…1.
    public var depths: [Double]
    public var samples: Int
    public var seed: UInt64
    public var maxAnswerTokens: Int

    public init(lengths: [Int] = [1024, 2048, 4096], depths: [Double] = [0, 0.25, 0.5, 0.75, 1],
                samples: Int = 1, seed: UInt64 = 1, maxAnswerTokens: Int = 24) {
        self.lengths = lengths
        self.depths = depths
        self.samples = samples
        self.seed = seed
        self.maxAnswerTokens = maxAnswerTokens
    }
}

/// One sample's outcome.
public struct NeedleTrial: Codable, Sendable {
    public var length: Int
    public var depth: Double
    public var sample: Int
    public var promptTokens: Int
    public var needle: String
    public var answer: String
    public var correct: Bool
}

/// One grid cell: the fraction of samples answered exactly.
public struct NeedleCell: Codable, Sendable {
    public var length: Int
    public var depth: Double
    public var score: Double
}

public struct NeedleReport: Codable, Sendable {
    public var model: String
    public var lengths: [Int]
    public var depths: [Double]
    public var cells: [NeedleCell]
    public var trials: [NeedleTrial]
    public var overall: Double
    public var seconds: Double
}

/// Random 8-digit needles ("The special magic number is NNNNNNNN.") hidden in a haystack at
/// each depth, the question asked at the end in the model's chat format, the greedy answer
/// scored by exact match of the number.
public final class NeedleEvaluator {
    public let model: LanguageModel
    public static let question = "What is the special magic number mentioned in the text above? Answer with the number only."
    public static let system = "You are a helpful AI bot that answers questions for a user. Keep your response short and direct."
    let generator: Generator
    let formatter: ChatFormatter
    let haystack: NeedleHaystack
    let options: NeedleOptions

    public init(model: LanguageModel, haystackText: String, options: NeedleOptions, pool: ThreadPool = ThreadPool()) throws {
        guard !options.lengths.isEmpty, options.lengths.allSatisfy({ $0 >= 64 }) else {
            throw EvalError.invalidParameter("--lengths must be token counts ≥ 64")
        }
        guard !options.depths.isEmpty, options.depths.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
            throw EvalError.invalidParameter("--depths must lie in 0…1")
        }
        guard options.samples >= 1 else { throw EvalError.invalidParameter("--samples must be ≥ 1") }
        self.model = model
        self.options = options
        let maxLength = options.lengths.max()!
        generator = Generator(session: try model.makeSession(contextLength: maxLength + options.maxAnswerTokens, pool: pool))
        formatter = try ChatFormatter(model: model)
        haystack = try NeedleHaystack(text: haystackText, tokenizer: model.tokenizer, maxTokens: maxLength + 64)
    }

    /// The chat prompt tokens for a context text.
    public func promptTokens(context: String) throws -> [Int] {
        let text = try formatter.render([.system(Self.system), .user(context + "\n\n" + Self.question)], addGenerationPrompt: true)
        return model.tokenizer.encode(text, addSpecial: false, parseSpecial: true)
    }

    /// Runs the grid; `progress` sees each finished trial.
    public func run(modelName: String? = nil, progress: (NeedleTrial, Int, Int) -> Void = { _, _, _ in }) throws -> NeedleReport {
        let start = Date()
        var rng = SplitMix64(seed: options.seed)
        let overhead = try promptTokens(context: "").count
        var trials: [NeedleTrial] = []
        let total = options.lengths.count * options.depths.count * options.samples
        for length in options.lengths {
            for depth in options.depths {
                for sample in 0..<options.samples {
                    let number = String(10_000_000 + rng.next() % 90_000_000)
                    let needle = NeedleHaystack.needle(number)
                    let needleTokens = model.tokenizer.encode(" " + needle + " ", addSpecial: false).count
                    var budget = max(16, length - overhead - needleTokens)
                    var prompt = try promptTokens(context: haystack.context(count: budget, depth: depth, needle: needle).text)
                    // Re-tokenising at the splice can shift the count by a few tokens: trim to fit.
                    while prompt.count > length && budget > 16 {
                        budget -= prompt.count - length
                        prompt = try promptTokens(context: haystack.context(count: budget, depth: depth, needle: needle).text)
                    }
                    generator.resetCache()
                    let result = try generator.generate(prompt: prompt, options: GenerationOptions(
                        maxTokens: options.maxAnswerTokens, sampling: .greedy))
                    let trial = NeedleTrial(length: length, depth: depth, sample: sample, promptTokens: prompt.count, needle: number,
                                            answer: result.text, correct: NeedleHaystack.isCorrect(answer: result.text, expected: number))
                    trials.append(trial)
                    progress(trial, trials.count, total)
                }
            }
        }
        var cells: [NeedleCell] = []
        for length in options.lengths {
            for depth in options.depths {
                let group = trials.filter { $0.length == length && $0.depth == depth }
                cells.append(NeedleCell(length: length, depth: depth, score: Double(group.filter(\.correct).count) / Double(group.count)))
            }
        }
        return NeedleReport(model: modelName ?? model.config.name, lengths: options.lengths, depths: options.depths, cells: cells, trials: trials,
                            overall: Double(trials.filter(\.correct).count) / Double(trials.count), seconds: Date().timeIntervalSince(start))
    }
}

