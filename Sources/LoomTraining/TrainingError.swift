/// Why a fine-tuning run, its data or its settings were refused.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A hyper-parameter or option outside its range; the text names it and the value.
    case invalidParameter(String)

    // MARK: Data, configuration and export (train-data)

    /// A `--layers` selection that does not parse or names a layer the model lacks.
    case invalidLayerSelection(spec: String, reason: String)
    /// A record of a dataset file that cannot be used; `line` is 1-based (0 = the whole file),
    /// printed as `FILE: line N: reason`.
    case badRecord(path: String, line: Int, reason: String)
    /// A dataset with no usable example (after bad records were skipped).
    case emptyDataset(path: String)
    /// With `strict`: an example longer than the cutoff length.
    case sequenceTooLong(example: String, tokens: Int, cutoff: Int)
    /// A chat template or tokenizer that cannot turn an example into ids and labels.
    case tokenization(example: String, reason: String)
    /// Writing an export (LLaMA-Factory dataset, YAML, DeepSpeed JSON) failed.
    case exportFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidParameter(let message): return "invalid training parameter: \(message)"
        // train-data
        case let .invalidLayerSelection(spec, reason): return "invalid layer selection \"\(spec)\": \(reason)"
        case let .badRecord(path, line, reason):
            return line > 0 ? "\(path): line \(line): \(reason)" : "\(path): \(reason)"
        case .emptyDataset(let path): return "\(path): the dataset has no usable example"
        case let .sequenceTooLong(example, tokens, cutoff):
            return "\(example): \(tokens) tokens is longer than the cutoff length \(cutoff) (strict mode)"
        case let .tokenization(example, reason): return "\(example): \(reason)"
        case let .exportFailed(path, reason): return "cannot write \(path): \(reason)"
        }
    }
}
