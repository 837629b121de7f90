// TEMPORARY until branch `store` lands. Delete on merge.
import Foundation
public struct FetchProgress: Sendable { public static let silent = FetchProgress(); public static let terminal = FetchProgress() }
public struct ModelStore: Sendable {
    public init(cacheDirectory: String? = nil) {}
    public func resolve(_ nameOrPath: String?, progress: FetchProgress? = .terminal) throws -> String {
        let name = nameOrPath ?? "smollm2"
        if FileManager.default.fileExists(atPath: name) { return name }
        let file = name == "smollm2" ? "SmolLM2-135M-Instruct.Q4_1.gguf" : "Qwen2.5-Coder-0.5B-Instruct.gguf"
        return NSHomeDirectory() + "/.cache/loom/models/" + file
    }
}
