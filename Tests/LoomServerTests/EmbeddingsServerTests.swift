import Foundation
import LoomEval
import LoomGeneration
import LoomHub
import LoomModels
import XCTest
@testable import LoomServer

/// `POST /v1/embeddings` (issue 26 item 3): OpenAI's request and answer shapes, each input
/// embedded exactly as the Swift API embeds it, and every bad field a 400 naming it.
final class EmbeddingsServerTests: XCTestCase {
    let auth = TestServer.auth

    /// The shared server embeds with all-MiniLM-L6-v2 (the default): the vectors are the
    /// `SentenceEncoder`'s, bit for bit, in input order, with the tokens counted in `usage`.
    func testMiniLMEmbeddingsMatchTheSwiftAPI() throws {
        let server = try TestServer.shared.get()
        let texts = ["A blockchain is a shared ledger.", "Bitcoin's supply is capped at 21 million coins.", "Le chat dort."]
        let reply = try server.client.post("/v1/embeddings", ["model": "text-embedding-3-small", "input": texts], headers: auth)
        XCTAssertEqual(reply.status, 200, reply.text)
        let object = try reply.json()
        XCTAssertEqual(object["object"] as? String, "list")
        XCTAssertEqual(object["model"] as? String, "all-MiniLM-L6-v2")
        let data = try XCTUnwrap(object["data"] as? [[String: Any]])
        XCTAssertEqual(data.map { $0["index"] as? Int }, [0, 1, 2])
        XCTAssertTrue(data.allSatisfy { $0["object"] as? String == "embedding" })
        let encoder = try SentenceEncoder(path: ModelStore().resolve("minilm", progress: .silent))
        var tokens = 0
        for (text, entry) in zip(texts, data) {
            let vector = try XCTUnwrap(entry["embedding"] as? [Double]).map(Float.init)
            let expected = try encoder.embed(text)
            XCTAssertEqual(vector, expected.vector, text)
            XCTAssertEqual(vector.count, 384)
            tokens += expected.tokenCount
        }
        let usage = try XCTUnwrap(object["usage"] as? [String: Any])
        XCTAssertEqual(usage["prompt_tokens"] as? Int, tokens)
        XCTAssertEqual(usage["total_tokens"] as? Int, tokens)

        // base64: the same floats, little-endian.
        let encoded = try server.client.post("/v1/embeddings", ["input": texts[0], "encoding_format": "base64", "dimensions": 384],
                                             headers: auth).json()
        let text = try XCTUnwrap(((encoded["data"] as? [[String: Any]])?.first)?["embedding"] as? String)
        let bytes = [UInt8](try XCTUnwrap(Data(base64Encoded: text)))
        XCTAssertEqual(bytes.count, 384 * 4)
        let decoded = (0..<384).map { i in
            Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i * 4 + $1]) << (8 * UInt32($1)) })
        }
        XCTAssertEqual(decoded, try encoder.embed(texts[0]).vector)

        // Token ids are embedded as given; `embd_normalize: -1` keeps the raw pooled vector.
        let ids = encoder.tokenize(texts[0])
        let raw = try server.client.post("/v1/embeddings", ["input": [ids], "embd_normalize": -1], headers: auth).json()
        let rawVector = try XCTUnwrap(((raw["data"] as? [[String: Any]])?.first)?["embedding"] as? [Double]).map(Float.init)
        XCTAssertEqual(rawVector, try encoder.embed(tokens: ids, normalize: false))
        XCTAssertGreaterThan(abs(rawVector.reduce(0) { $0 + $1 * $1 } - 1), 1e-3, "not normalised")
    }

    /// Every malformed field is a 400 that names it.
    func testBadRequestsNameTheField() throws {
        let client = try TestServer.shared.get().client
        func post(_ body: [String: Any]) throws -> RawHTTPClient.Reply { try client.post("/v1/embeddings", body, headers: auth) }
        assertError(try post([:]), 400, param: "input")
        assertError(try post(["input": ""]), 400, param: "input")
        assertError(try post(["input": []]), 400, param: "input")
        assertError(try post(["input": ["fine", ""]]), 400, param: "input[1]")
        assertError(try post(["input": [[]]]), 400, param: "input")
        assertError(try post(["input": 42]), 400, param: "input")
        assertError(try post(["input": [1, "two"]]), 400, param: "input[1]")
        assertError(try post(["input": "x", "encoding_format": "hex"]), 400, param: "encoding_format")
        assertError(try post(["input": "x", "dimensions": 256]), 400, param: "dimensions")
        assertError(try post(["input": "x", "dimensions": 0]), 400, param: "dimensions")
        assertError(try post(["input": "x", "embd_normalize": 1]), 400, param: "embd_normalize")
        assertError(try post(["input": "x", "truncate": true]), 400, param: "truncate")
        assertError(try post(["input": [101, 30522, 102]]), 400, param: "input")
        assertError(try post(["input": [Int](repeating: 1000, count: 257)]), 400, param: "input")
        assertError(try post(["input": [String](repeating: "x", count: EmbeddingRequest.maxInputs + 1)]), 400, param: "input")
        XCTAssertEqual(try post(["input": "x", "user": "someone"]).status, 200)
        XCTAssertEqual(try client.post("/v1/embeddings", ["input": "x"]).status, 401)
    }

    /// Text past MiniLM's 256 tokens is truncated, as sentence-transformers does, and the
    /// tokens used are what `usage` counts.
    func testLongTextIsTruncatedToTheEncoderLimit() throws {
        let client = try TestServer.shared.get().client
        let long = String(repeating: "ledger ", count: 400)
        let object = try client.post("/v1/embeddings", ["input": long], headers: auth).json()
        XCTAssertEqual((object["usage"] as? [String: Any])?["prompt_tokens"] as? Int, 256)
    }

    /// `--embedding-model decoder --pooling last`: the served model's pooled hidden states,
    /// equal to ``DecoderEmbedder``'s; input longer than the slot context is a 400.
    func testDecoderEmbeddings() async throws {
        var configuration = ServerConfiguration(port: 0, parallel: 1, contextLength: 64, alias: "smol", threads: 1)
        configuration.embeddingModel = .decoder(pooling: .last)
        let server = try TestServer(configuration: configuration)
        let reply = try server.client.post("/v1/embeddings", ["input": ["Hello there", "The sky is blue."]])
        XCTAssertEqual(reply.status, 200, reply.text)
        let object = try reply.json()
        XCTAssertEqual(object["model"] as? String, "smol")
        let served = try XCTUnwrap(server.server.servedModel)
        let embedder = DecoderEmbedder(model: served.model, pooling: .last, maxTokens: 64)
        let data = try XCTUnwrap(object["data"] as? [[String: Any]])
        for (text, entry) in zip(["Hello there", "The sky is blue."], data) {
            let vector = try XCTUnwrap(entry["embedding"] as? [Double]).map(Float.init)
            XCTAssertEqual(vector.count, served.model.config.embeddingSize)
            XCTAssertEqual(vector, try embedder.embed(text).vector, text)
        }
        assertError(try server.client.post("/v1/embeddings", ["input": String(repeating: "word ", count: 100)]), 400, param: "input")
        assertError(try server.client.post("/v1/embeddings", ["input": [5, 49152]]), 400, param: "input")
        await server.stop()
    }

    /// `--embedding-model none`: a 404 that says how to turn embeddings on.
    func testEmbeddingsCanBeTurnedOff() async throws {
        var configuration = ServerConfiguration(port: 0, parallel: 1, contextLength: 64, threads: 1)
        configuration.embeddingModel = .none
        let server = try TestServer(configuration: configuration)
        let reply = try server.client.post("/v1/embeddings", ["input": "x"])
        assertError(reply, 404, code: "embeddings_disabled")
        XCTAssertTrue(reply.text.contains("--embedding-model"), reply.text)
        await server.stop()
    }
}
