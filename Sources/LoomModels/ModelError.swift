import LoomFormats

/// Why a model could not be loaded or run. Every case names the file or value at fault.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(String, path: String)
    case missingMetadata(key: String, path: String)
    case invalidMetadata(key: String, reason: String, path: String)
    case missingTensor(name: String, path: String)
    case tensorShape(name: String, expected: [Int], actual: [Int], path: String)
    case tensorType(name: String, type: String, reason: String, path: String)
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case contextFull(needed: Int, capacity: Int)
    /// Planned memory beyond the machine's (`requested` nil: the byte count overflows).
    case insufficientMemory(what: String, requested: Int?, available: Int)
    case emptyInput

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(arch, path):
            return "\(path): architecture '\(arch)' is not supported (supported: \(ArchitectureRegistry.all.map(\.name).joined(separator: ", ")))"
        case let .missingMetadata(key, path):
            return "\(path): required metadata key '\(key)' is missing"
        case let .invalidMetadata(key, reason, path):
            return "\(path): metadata '\(key)' is invalid: \(reason)"
        case let .missingTensor(name, path):
            return "\(path): required tensor '\(name)' is missing"
        case let .tensorShape(name, expected, actual, path):
            return "\(path): tensor '\(name)' has shape \(actual), expected \(expected)"
        case let .tensorType(name, type, reason, path):
            return "\(path): tensor '\(name)' of type \(type): \(reason)"
        case let .tokenOutOfRange(token, size):
            return "token id \(token) is outside the vocabulary (0..<\(size))"
        case let .contextFull(needed, capacity):
            return "the context is full: \(needed) positions needed, the KV cache holds \(capacity) (raise --ctx, up to the model's trained context)"
        case let .insufficientMemory(what, requested, available):
            let need = requested.map { "\($0) bytes" } ?? "more bytes than a 64-bit size can count"
            return "\(what) would need \(need), but the machine has \(available) bytes of memory (lower --ctx or --parallel)"
        case .emptyInput:
            return "no tokens to evaluate"
        }
    }
}
