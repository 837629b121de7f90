import Foundation
import LoomFormats
@testable import LoomTokenizer

/// The real-model tokenizers, loaded once per test process (parsing a GGUF's 150k-string
/// vocabulary is the slow part).
enum SharedTokenizers {
    private static let smolResult = Result { try BPETokenizer(gguf: GGUFFile(path: TestModels.path(TestModels.smolLM2))) }
    private static let qwenResult = Result { try BPETokenizer(gguf: GGUFFile(path: TestModels.path(TestModels.qwenCoder))) }

    static func smol() throws -> BPETokenizer { try smolResult.get() }
    static func qwen() throws -> BPETokenizer { try qwenResult.get() }
}

/// A short, printable description of a test string for failure messages.
func describe(_ text: String) -> String {
    let shown = text.count > 60 ? String(text.prefix(60)) + "…(\(text.count) chars)" : text
    return shown.debugDescription
}
