import Foundation
import XCTest
import LoomFormats
import LoomKernels
import LoomTokenizer
@testable import LoomModels

/// Models loaded from Hugging Face directories: the real SmolLM2 weights exported from GGUF
/// (q/k rows back in HF order, tokenizer.json written from the GGUF vocabulary) must give
/// the independent float64 reference's log-probs, like the GGUF path does.
final class HuggingFaceModelTests: XCTestCase {
    /// Exports SmolLM2 as an HF directory once per test run.
    static let exported: Result<String, Error> = Result {
        let gguf = try TestModels.path("smollm2")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-hf-smollm2-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        _ = try GGUFToHFExporter(dtype: .f32).export(gguf: gguf, to: dir)
        try HFTokenizerJSONWriter.tokenizerJSON(gguf: GGUFFile(path: gguf))
            .write(to: URL(fileURLWithPath: dir).appendingPathComponent("tokenizer.json"))
        return dir
    }

    override class func tearDown() {
        if case let .success(dir) = exported { try? FileManager.default.removeItem(atPath: dir) }
    }

    func testExportedDirectoryMatchesTheFloatReference() throws {
        let model = try LanguageModel(path: try Self.exported.get())
        XCTAssertNil(model.file)
        XCTAssertNotNil(model.checkpoint)
        XCTAssertEqual(model.config.ropeLayout, .halfSplit, "HF q/k rows are not permuted")
        XCTAssertTrue(model.weights.tiedOutput)
        XCTAssertNotNil(model.chatTemplate)
        try ReferenceLogitsTests.check("smollm2", model: model)
    }

    func testDirectoryAndGGUFAgreeOnTokensAndConfig() throws {
        let hf = try LanguageModel(path: try Self.exported.get())
        let gguf = try LanguageModel(path: try TestModels.path("smollm2"))
        for text in ["Hello world", "The year 2024 had 366 days.", "<|im_start|>user\nhi<|im_end|>"] {
            XCTAssertEqual(hf.tokenizer.encode(text), gguf.tokenizer.encode(text), text)
        }
        XCTAssertEqual(hf.tokenizer.endOfGenerationIDs, gguf.tokenizer.endOfGenerationIDs)
        XCTAssertEqual(hf.chatTemplate, gguf.chatTemplate)
        var expected = gguf.config
        expected.ropeLayout = .halfSplit
        expected.name = hf.config.name
        XCTAssertEqual(hf.config, expected)
    }

    func testBrokenDirectoriesGiveClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-hf-broken-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try LanguageModel(path: dir.path)) { XCTAssertTrue("\($0)".contains("config.json"), "\($0)") }

        // A config whose sizes disagree with the weights names the tensor.
        let source = try Self.exported.get()
        for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(name).path,
                                                       withDestinationPath: (source as NSString).appendingPathComponent(name))
        }
        var config = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: source).appendingPathComponent("config.json"))) as? [String: Any])
        config["intermediate_size"] = 1000
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try LanguageModel(path: dir.path)) { XCTAssertTrue("\($0)".contains("ffn_gate"), "\($0)") }
    }
}
