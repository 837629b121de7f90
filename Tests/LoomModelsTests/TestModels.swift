import Foundation
import LoomFormats

/// Locates the real test models. TEMP: cache path until ModelStore lands.
enum TestModels {
    static func path(_ name: String) throws -> String {
        let file = name == "smollm2" ? "SmolLM2-135M-Instruct.Q4_1.gguf" : "Qwen2.5-Coder-0.5B-Instruct.gguf"
        return NSHomeDirectory() + "/.cache/loom/models/" + file
    }
}
