import Foundation

/// Locates the real model files used by tests:
/// `$LOOM_CACHE` (else `$XDG_CACHE_HOME/loom`, else `~/.cache/loom`) + `/models/` + file.
enum TestModels {
    static let smolLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let qwenCoder = "Qwen2.5-Coder-0.5B-Instruct.gguf"

    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "test model not found at \(path); download it there or set $LOOM_CACHE to the directory holding models/"
        }
    }

    /// The cache directory Loom uses for models.
    static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let cache = env["LOOM_CACHE"], !cache.isEmpty { return cache }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/loom" }
        return NSHomeDirectory() + "/.cache/loom"
    }

    /// Full path of `file` in the model cache; throws `Missing` if it is not there.
    static func path(_ file: String) throws -> String {
        let path = cacheDirectory + "/models/" + file
        guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
        return path
    }
}
