import XCTest
import LoomKernels
@testable import LoomFormats

/// Reads the real SmolLM2 model file and checks facts known about it.
final class GGUFReaderTests: XCTestCase {
    func testSmolLM2Basics() throws {
        let file = try GGUFFile(path: TestModels.path(TestModels.smolLM2))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(file["tokenizer.ggml.pre"]?.stringValue, "smollm")
        XCTAssertEqual(file["llama.block_count"]?.intValue, 30)
        XCTAssertEqual(file["llama.embedding_length"]?.intValue, 576)
        let tokens = try XCTUnwrap(file["tokenizer.ggml.tokens"]?.stringArray)
        XCTAssertEqual(tokens.count, 49152)
        XCTAssertEqual(file.metadataKeys.count, file.metadata.count)

        let embd = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embd.dimensions, [576, 49152])
        XCTAssertEqual(embd.rowLength, 576)
        XCTAssertEqual(embd.rowCount, 49152)
        XCTAssertEqual(file.dataOffset % file.alignment, 0)
        // Every tensor lies inside the file and the last one ends within one alignment unit of EOF.
        let end = file.tensors.map { file.dataOffset + $0.offset + $0.byteCount }.max() ?? 0
        XCTAssertLessThanOrEqual(end, file.fileSize)
        XCTAssertGreaterThan(end + file.alignment, file.fileSize)
        let norm = try XCTUnwrap(file.tensor(named: "output_norm.weight"))
        XCTAssertEqual(norm.type, .f32)
        let weights = file.data(for: norm).assumingMemoryBound(to: Float.self)
        XCTAssertTrue((0..<norm.elementCount).allSatisfy { weights[$0].isFinite })
    }
}
