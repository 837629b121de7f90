import Foundation
import XCTest
import LoomFormats
import LoomTestSupport
@testable import LoomServer

/// `loom serve` on ternary models: an HF BitNet checkpoint (packed BitLinear weights used in
/// place) and a float model ternarised by `quantize --ternary` into Loom's packed GGUF layout
/// (the tiny fixtures of scripts/gen_hf_bitnet_fixtures.py; their logits are checked against
/// transformers in LoomModelsTests). Greedy completions through the HTTP API equal each other
/// across requests and slots, and the chat endpoint answers.
final class TernaryServerTests: XCTestCase {
    static let root = Result {
        try SyntheticFixture.materialize(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LoomModelsTests/Fixtures/hf_bitnet"))
    }

    func serve(_ path: String, _ body: (TestServer) throws -> Void) throws {
        let server = try TestServer(configuration: ServerConfiguration(port: 0, parallel: 2, contextLength: 64, alias: "tern", threads: 2),
                                    model: path)
        defer { let done = DispatchSemaphore(value: 0); Task { await server.stop(); done.signal() }; done.wait() }
        try body(server)
    }

    func greedy(_ server: TestServer) throws -> String {
        let reply = try server.client.post("/v1/completions", ["prompt": "the cat sat", "max_tokens": 6, "temperature": 0] as [String: Any])
        XCTAssertEqual(reply.status, 200, reply.text)
        let choice = try XCTUnwrap((try reply.json()["choices"] as? [[String: Any]])?.first)
        return try XCTUnwrap(choice["text"] as? String)
    }

    func testServesHFBitNetDirectoryAndPackedTernaryGGUF() throws {
        let root = try Self.root.get()
        let float = NSTemporaryDirectory() + "loom-tern-server-\(UUID().uuidString).f32.gguf"
        let packed = float.replacingOccurrences(of: ".f32.gguf", with: ".packed.gguf")
        defer { for p in [float, packed] { try? FileManager.default.removeItem(atPath: p) } }
        try HFToGGUFConverter(outputType: .f32).convert(directory: root.appendingPathComponent("llama_online").path, output: float)
        var quantizer = GGUFQuantizer(fileType: .allF32, threads: 2)
        quantizer.ternary = true
        try quantizer.quantize(input: float, output: packed)
        XCTAssertTrue(try GGUFFile(path: packed).tensors.contains { $0.type == .i8 }, "the projections are packed")
        for path in [root.appendingPathComponent("llama_bitnet").path, root.appendingPathComponent("bitnet").path, packed] {
            try serve(path) { server in
                let first = try greedy(server)
                XCTAssertFalse(first.isEmpty, path)
                XCTAssertEqual(try greedy(server), first, "\(path): greedy answers repeat")
                let chat = try server.client.post("/v1/chat/completions", [
                    "messages": [["role": "user", "content": "hello"]], "max_tokens": 4, "temperature": 0,
                ] as [String: Any])
                XCTAssertEqual(chat.status, 200, "\(path): \(chat.text)")
            }
        }
    }
}
