import Foundation

/// Problems an evaluation run reports: bad parameters, too little text, unreadable or
/// mismatched files, malformed dataset lines (with file and line number).
public enum EvalError: Error, CustomStringConvertible, Equatable {
    case invalidParameter(String)
    case notEnoughTokens(have: Int, need: Int, context: Int)
    case logProbFile(path: String, reason: String)
    case dataset(path: String, line: Int, reason: String)
    case emptyDataset(path: String)

    public var description: String {
        switch self {
        case .invalidParameter(let message): return message
        case let .notEnoughTokens(have, need, context):
            return "the text has \(have) tokens; at least \(need) (2 × context \(context)) are needed for perplexity"
        case let .logProbFile(path, reason): return "\(path): \(reason)"
        case let .dataset(path, line, reason): return "\(path):\(line): \(reason)"
        case .emptyDataset(let path): return "\(path): no usable records"
        }
    }
}
