import Foundation
import Yams

/// A `loom data run` recipe: the pipeline's stages in order, each with its options, read
/// from YAML.
///
/// ```yaml
/// output_dir: python-docs          # where step outputs go (relative to the working folder)
/// steps:
///   - stage: ingest
///     input: ["${DOCS}"]          # ${NAME}: --var NAME=VALUE, else the environment
///   - stage: clean
///     min_words: 50               # = --min-words 50
///   - stage: dedup
///   - stage: report               # input: every JSONL output so far
///   - stage: format
///     val_split: 0.05             # clusters: the dedup step's clusters file
/// ```
///
/// A step's `input` is the previous step's output unless given; its `output` is
/// `NN-STAGE.jsonl` in `output_dir` (a folder for `format` and `report`). Every other key is
/// the stage's command-line option: `min_words: 50` is `--min-words 50`, `true` a flag,
/// `false` leaves it out, a list repeats the option. Recipes are parsed whole before
/// anything runs, so a misspelt stage, key or variable is an error naming its line, not a
/// failure an hour into the run.
public struct DataRecipe: Sendable {
    /// One stage of a recipe.
    public struct Step: Sendable, Equatable {
        /// The stage (`ingest`, `clean`, …).
        public var stage: String
        /// The line of the recipe where the step starts (1-based).
        public var line: Int
        /// Input paths (several for `ingest` and `report`).
        public var inputs: [String]
        /// The output file or folder.
        public var output: String
        /// The stage's options as command-line arguments (`--min-words`, `50`, …).
        public var options: [String]

        /// The full argument list of `loom data STAGE`: inputs, `-o OUTPUT`, options.
        public var arguments: [String] { inputs + ["-o", output] + options }
    }

    /// The stages a recipe may name, in their usual order.
    public static let stages = ["ingest", "clean", "dedup", "scrub", "chunk", "format", "report"]
    /// Stages whose output is a folder rather than a JSONL file.
    static let folderStages: Set<String> = ["format", "report"]
    /// Keys of the recipe's top level.
    static let topKeys: Set<String> = ["output_dir", "steps"]

    /// The folder the step outputs go into.
    public var outputDirectory: String
    /// The steps, in order.
    public var steps: [Step]

    /// Reads a recipe file; `variables` fill `${NAME}` before the environment does, and
    /// `outputDirectory` replaces the recipe's `output_dir`.
    public init(path: String, variables: [String: String] = [:], outputDirectory: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("cannot read the recipe \(path)") }
        try self.init(yaml: String(decoding: data, as: UTF8.self), name: path, variables: variables,
                      outputDirectory: outputDirectory, environment: environment)
    }

    /// Parses a recipe; `name` is used in error messages.
    public init(yaml: String, name: String = "recipe", variables: [String: String] = [:],
                outputDirectory overrideDirectory: String? = nil, environment: [String: String] = [:]) throws {
        func fail(_ node: Node?, _ message: String) -> DataError {
            DataError("\(name)\(node?.mark.map { ":\($0.line)" } ?? ""): \(message)")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch { throw DataError("\(name) is not valid YAML: \(error)") }
        guard let root, case .mapping(let top) = root else { throw fail(root, "a recipe is a mapping with output_dir and steps") }
        var outputDirectory = "."
        var stepNodes: [Node] = []
        for (keyNode, value) in top {
            guard let key = keyNode.string else { throw fail(keyNode, "keys must be strings") }
            switch key {
            case "output_dir":
                guard case .scalar(let s) = value else { throw fail(value, "output_dir must be a path") }
                outputDirectory = try Self.expand(s.string, variables: variables, environment: environment) { fail(value, $0) }
            case "steps":
                guard case .sequence(let list) = value else { throw fail(value, "steps must be a list of stages") }
                stepNodes = Array(list)
            default:
                throw fail(keyNode, "unknown key \"\(key)\" (a recipe has \(Self.topKeys.sorted().joined(separator: ", ")))")
            }
        }
        guard !stepNodes.isEmpty else { throw fail(root, "the recipe has no steps") }
        if let overrideDirectory { outputDirectory = overrideDirectory }

        var steps: [Step] = []
        var jsonOutputs: [String] = []
        var clustersFile: String?
        for (index, node) in stepNodes.enumerated() {
            guard case .mapping(let mapping) = node else { throw fail(node, "step \(index + 1) must be a mapping with a \"stage\" key") }
            guard let stageNode = mapping["stage"], let stage = stageNode.string else {
                throw fail(node, "step \(index + 1) has no \"stage\" (one of \(Self.stages.joined(separator: ", ")))")
            }
            guard Self.stages.contains(stage) else {
                throw fail(stageNode, "step \(index + 1): unknown stage \"\(stage)\" (one of \(Self.stages.joined(separator: ", ")))")
            }
            let label = "step \(index + 1) (\(stage))"
            func text(_ scalar: Node) throws -> String {
                guard case .scalar(let s) = scalar else { throw fail(scalar, "\(label): expected a value, not a list or mapping") }
                return try Self.expand(s.string, variables: variables, environment: environment) { fail(scalar, "\(label): \($0)") }
            }
            func texts(_ value: Node) throws -> [String] {
                if case .sequence(let list) = value { return try list.map(text) }
                return [try text(value)]
            }
            var inputs: [String]?
            var output: String?
            var options: [String] = []
            var hasClusters = false
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { throw fail(keyNode, "\(label): keys must be strings") }
                switch key {
                case "stage": continue
                case "input": inputs = try texts(value)
                case "output": output = try text(value)
                default:
                    guard key.range(of: "^[a-z][a-z0-9_-]*$", options: .regularExpression) != nil else {
                        throw fail(keyNode, "\(label): \"\(key)\" is not an option name")
                    }
                    if key == "o" || key == "help" { throw fail(keyNode, "\(label): \"\(key)\" is not an option of a recipe step (use output)") }
                    let flag = "--" + key.replacingOccurrences(of: "_", with: "-")
                    if flag == "--clusters" { hasClusters = true }
                    // true/false (also YAML 1.1's yes/no/on/off, unless quoted) switch a flag.
                    if let on = value.bool {
                        if on { options.append(flag) }
                        continue
                    }
                    for v in try texts(value) { options += [flag, v] }
                }
            }
            let stepNumber = String(format: "%02d", index + 1)
            let defaultOutput = outputDirectory + "/" + stepNumber + "-" + stage + (Self.folderStages.contains(stage) ? "" : ".jsonl")
            let resolvedOutput = output ?? (stage == "report" ? outputDirectory + "/report" : defaultOutput)
            let resolvedInputs: [String]
            if let inputs {
                resolvedInputs = inputs
            } else if stage == "report" {
                resolvedInputs = jsonOutputs
            } else if let previous = steps.last(where: { !Self.folderStages.contains($0.stage) }) {
                resolvedInputs = [previous.output]
            } else {
                throw fail(node, "\(label) needs an input (the first step has none before it)")
            }
            guard !resolvedInputs.isEmpty else { throw fail(node, "\(label) has no input files") }
            if stage != "ingest" && stage != "report" && resolvedInputs.count != 1 {
                throw fail(node, "\(label) reads one input, not \(resolvedInputs.count)")
            }
            if stage == "format", !hasClusters, let clustersFile { options += ["--clusters", clustersFile] }
            if stage == "dedup" { clustersFile = resolvedOutput + ".clusters.jsonl" }
            if !Self.folderStages.contains(stage) { jsonOutputs.append(resolvedOutput) }
            steps.append(Step(stage: stage, line: node.mark?.line ?? 0, inputs: resolvedInputs, output: resolvedOutput, options: options))
        }
        self.outputDirectory = outputDirectory
        self.steps = steps
    }

    /// `text` with each `${NAME}` replaced by `variables[NAME]`, else `environment[NAME]`.
    static func expand(_ text: String, variables: [String: String], environment: [String: String],
                       error: (String) -> DataError) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { throw error("unterminated ${ in \"\(text)\"") }
            let name = String(rest[open.upperBound ..< close])
            guard let value = variables[name] ?? environment[name] else {
                throw error("the variable ${\(name)} is not set (pass --var \(name)=VALUE or set it in the environment)")
            }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
