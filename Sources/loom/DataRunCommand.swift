import ArgumentParser
import Foundation
import LoomData

/// `loom data run RECIPE.yaml`: the stages of a recipe, in order, each with its options.
struct DataRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the stages of a YAML recipe in order (see recipes/python-docs.yaml).",
        discussion: """
        A recipe has output_dir and a list of steps; each step names a stage and gives its options \
        under their long names (min_words: 50 is --min-words 50). A step reads the previous step's \
        output unless it gives input, and writes OUTPUT_DIR/NN-STAGE.jsonl unless it gives output. \
        ${NAME} in a value is --var NAME=VALUE or the environment variable NAME. Every step's \
        options are checked before the first one runs.
        """)

    @Argument(help: "The recipe (YAML).") var recipe: String
    @Option(name: .customLong("var"), help: "NAME=VALUE for ${NAME} in the recipe (repeatable).") var variables: [String] = []
    @Option(help: "Write the outputs here instead of the recipe's output_dir.") var outputDir: String?
    @Flag(help: "Print the stages' command lines without running them.") var dryRun = false

    /// The command of each stage a recipe may name.
    static let commands: [String: any ParsableCommand.Type] = [
        "ingest": DataIngestCommand.self, "clean": DataCleanCommand.self, "dedup": DataDedupCommand.self,
        "scrub": DataScrubCommand.self, "chunk": DataChunkCommand.self, "format": DataFormatCommand.self,
        "report": DataReportCommand.self,
    ]

    func run() throws {
        var values: [String: String] = [:]
        for v in variables {
            guard let equals = v.firstIndex(of: "="), equals != v.startIndex else { throw ValidationError("--var takes NAME=VALUE (got \(v))") }
            values[String(v[..<equals])] = String(v[v.index(after: equals)...])
        }
        let plan: DataRecipe
        do { plan = try DataRecipe(path: recipe, variables: values, outputDirectory: outputDir) } catch let error as DataError {
            throw ValidationError(error.message)
        }
        // Parse every step before running any, so a wrong option fails now, not hours in.
        var parsed: [(DataRecipe.Step, any ParsableCommand)] = []
        for (index, step) in plan.steps.enumerated() {
            guard let type = Self.commands[step.stage] else { throw ValidationError("\(recipe):\(step.line): no command for stage \(step.stage)") }
            do { parsed.append((step, try type.parse(step.arguments))) } catch {
                throw ValidationError("\(recipe):\(step.line): step \(index + 1) (\(step.stage)): \(type.message(for: error))")
            }
        }
        if dryRun {
            for (step, _) in parsed { StandardOutput.write((["loom", "data", step.stage] + step.arguments).map(shellQuoted).joined(separator: " ") + "\n") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: plan.outputDirectory, withIntermediateDirectories: true) } catch {
            throw ValidationError("cannot create \(plan.outputDirectory): \(error.localizedDescription)")
        }
        let started = Date()
        for (index, (step, command)) in parsed.enumerated() {
            StandardError.print("[\(index + 1)/\(parsed.count)] loom data \(step.stage) " + step.arguments.map(shellQuoted).joined(separator: " "))
            var command = command
            try command.run()
        }
        StandardOutput.write(String(format: "recipe %@: %d steps in %.1f s → %@\n", recipe, parsed.count, Date().timeIntervalSince(started), plan.outputDirectory))
    }
}

/// `s` quoted for a POSIX shell when it holds anything but safe characters.
private func shellQuoted(_ s: String) -> String {
    if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
