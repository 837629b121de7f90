import Foundation
import XCTest
import LoomFormats
import LoomGeneration
import LoomKernels
import LoomModels
@testable import LoomServer

/// LoRA in the server: an adapter on for every request at its scale (llama.cpp `--lora`,
/// here attached at scale 0 = off), one selected by model name (vLLM `--lora-modules`),
/// per-request `"lora"` scales, `GET`/`POST /lora-adapters`, `/v1/models` — and requests with
/// different adapters decoding in the same batch, each answering exactly as a single-sequence
/// generator with only its adapter attached (float kernels on both sides).
final class LoRAServerTests: XCTestCase {
    static let adapters = Result<(URL, URL), Error> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-server-lora-\(UUID().uuidString)")
        func random(_ seed: UInt64) -> LoRAAdapter {
            var s = seed
            func next() -> Float {
                s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.4
            }
            var modules: [String: LoRAAdapter.Module] = [:]
            for layer in 0..<30 {
                for (name, rows) in [("attn_q", 576), ("attn_v", 192), ("ffn_down", 576)] {
                    let columns = name == "ffn_down" ? 1536 : 576
                    modules["blk.\(layer).\(name).weight"] = LoRAAdapter.Module(
                        rank: 4, inputs: columns, outputs: rows, a: (0..<4 * columns).map { _ in next() },
                        b: (0..<rows * 4).map { _ in next() }, scale: 1)
                }
            }
            return LoRAAdapter(path: "random-\(seed)", architecture: "llama", space: .huggingFace, modules: modules)
        }
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        try random(1).writePEFT(to: a.path, naming: .llamaFamily)
        try random(2).writePEFT(to: b.path, naming: .llamaFamily)
        return (a, b)
    }

    static let server = Result<TestServer, Error> {
        let (a, b) = try adapters.get()
        var options = KernelOptions()
        options.integerActivations = false
        var configuration = ServerConfiguration(port: 0, parallel: 4, contextLength: 128, alias: "smol", threads: 2,
                                                queueLimit: 16, kernelOptions: options)
        configuration.loraAdapters = [ServedLoRA(path: a.path, scale: 0), ServedLoRA(name: "crypto", path: b.path)]
        return try TestServer(configuration: configuration)
    }

    /// Greedy answer of a single-sequence float-path generator with `adapter` attached (or none).
    func reference(_ prompt: [Int], adapter: URL?) throws -> [Int] {
        let model = try LanguageModel(path: try TestServer.modelPath())
        if let adapter { try model.loadLoRA(path: adapter.path) }
        var options = KernelOptions()
        options.integerActivations = false
        let generator = Generator(session: try model.makeSession(contextLength: 128, pool: ThreadPool(threadCount: 2), options: options))
        return try generator.generate(prompt: prompt, options: GenerationOptions(maxTokens: 10, sampling: .greedy)).tokens
    }

    func testAdaptersPerRequestInOneBatchMatchSingleSequenceAnswers() throws {
        let server = try Self.server.get(), client = server.client
        let (a, b) = try Self.adapters.get()
        let prompt = "The best way to store coins is"
        let ids = try XCTUnwrap(server.server.servedModel).tokenizer.encode(prompt, addSpecial: true)
        let bodies: [[String: Any]] = [
            ["model": "smol", "prompt": prompt, "max_tokens": 10, "temperature": 0],
            ["model": "smol", "prompt": prompt, "max_tokens": 10, "temperature": 0, "lora": [["id": 0, "scale": 1]]],
            ["model": "crypto", "prompt": prompt, "max_tokens": 10, "temperature": 0],
        ]
        // All three at once: they share decode steps.
        let lock = NSLock()
        nonisolated(unsafe) var replies = [RawHTTPClient.Reply?](repeating: nil, count: 3)
        DispatchQueue.concurrentPerform(iterations: 3) { i in
            let reply = try? RawHTTPClient(port: server.port).post("/v1/completions", bodies[i])
            lock.withLock { replies[i] = reply }
        }
        let expected = [try reference(ids, adapter: nil), try reference(ids, adapter: a), try reference(ids, adapter: b)]
        XCTAssertNotEqual(expected[0], expected[1], "adapter a must change the answer")
        XCTAssertNotEqual(expected[0], expected[2], "adapter b must change the answer")
        let tokenizer = try XCTUnwrap(server.server.servedModel).tokenizer
        for i in 0..<3 {
            let reply = try XCTUnwrap(replies[i])
            XCTAssertEqual(reply.status, 200, reply.text)
            let text = try XCTUnwrap(((try reply.json())["choices"] as? [[String: Any]])?.first?["text"] as? String)
            XCTAssertEqual(text, tokenizer.decode(expected[i]), "request \(i)")
        }
        _ = client
    }

    func testAdapterRoutesAndBadRequests() throws {
        let client = try Self.server.get().client
        let list = try client.get("/lora-adapters")
        XCTAssertEqual(list.status, 200, list.text)
        let adapters = try XCTUnwrap(JSONSerialization.jsonObject(with: list.body) as? [[String: Any]])
        XCTAssertEqual(adapters.map { $0["id"] as? Int }, [0, 1])
        XCTAssertEqual(adapters.map { $0["scale"] as? Double }, [0, 0])

        let models = try client.get("/v1/models").json()
        let ids = (models["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids, ["smol", "crypto"])

        let unknown = try client.post("/v1/completions", ["prompt": "hi", "max_tokens": 1, "lora": [["id": 7, "scale": 1]]])
        XCTAssertEqual(unknown.status, 400, unknown.text)
        XCTAssertTrue(unknown.text.contains("no adapter with id 7"), unknown.text)
        let badScale = try client.post("/v1/completions", ["prompt": "hi", "max_tokens": 1, "lora": [["id": 0, "scale": "x"]]])
        XCTAssertEqual(badScale.status, 400, badScale.text)
        XCTAssertTrue(badScale.text.contains("lora[0].scale"), badScale.text)
        // Any other name serves the base model (llama-server's behaviour), not an adapter.
        let other = try client.post("/v1/completions", ["model": "other", "prompt": "hi", "max_tokens": 1])
        XCTAssertEqual(other.status, 200, other.text)
        XCTAssertEqual(try other.json()["model"] as? String, "smol")

        let badSet = try client.post("/lora-adapters", [["id": 5, "scale": 1]])
        XCTAssertEqual(badSet.status, 400, badSet.text)
        let set = try client.post("/lora-adapters", [["id": 0, "scale": 0.5]])
        XCTAssertEqual(set.status, 200, set.text)
        let after = try XCTUnwrap(JSONSerialization.jsonObject(with: try client.get("/lora-adapters").body) as? [[String: Any]])
        XCTAssertEqual(after.first?["scale"] as? Double, 0.5)
        _ = try client.post("/lora-adapters", [["id": 0, "scale": 0]])
    }
}
