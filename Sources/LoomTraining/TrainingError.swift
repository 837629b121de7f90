/// Why a fine-tuning run, its data or its settings were refused.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A hyper-parameter or option outside its range; the text names it and the value.
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .invalidParameter(let message): return "invalid training parameter: \(message)"
        }
    }
}
