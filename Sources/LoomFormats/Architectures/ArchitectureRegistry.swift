/// Every architecture Loom runs, looked up by GGUF `general.architecture` or by
/// `config.json`'s `architectures[0]` (like mlx-swift-lm's `LLMTypeRegistry`). An unknown
/// name is an error that names it and lists the known ones; nothing falls back silently.
public enum ArchitectureRegistry {
    /// In the order they are listed in errors.
    public static let all: [Architecture] = [.llama, .qwen2, .phi3, .mistral, .bitnet]

    /// The architecture whose GGUF name is `name`.
    public static func gguf(_ name: String, path: String) throws -> Architecture {
        guard let a = all.first(where: { $0.name == name }) else {
            throw ArchitectureError(path: path, field: "general.architecture", value: name,
                                    known: all.map(\.name))
        }
        return a
    }

    /// The architecture of an HF `config.json` whose `architectures[0]` is `className`.
    public static func huggingFace(className: String, path: String) throws -> Architecture {
        guard let a = all.first(where: { $0.hfClassNames.contains(className) }) else {
            throw ArchitectureError(path: path, field: "architectures", value: className,
                                    known: all.flatMap(\.hfClassNames))
        }
        return a
    }
}

/// A model file names an architecture Loom does not run.
public struct ArchitectureError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let field: String
    public let value: String
    public let known: [String]

    public var description: String {
        "\(path): \(field): architecture '\(value)' is not supported (supported: \(known.joined(separator: ", ")))"
    }
}
