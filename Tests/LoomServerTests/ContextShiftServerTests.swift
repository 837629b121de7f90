import Foundation
import XCTest
import LoomGeneration
@testable import LoomServer

/// `loom serve --context-shift --keep N`: a slot whose context fills drops the older half of
/// it and generates on to `max_tokens`; without the flag `max_tokens` must fit the context.
final class ContextShiftServerTests: XCTestCase {
    static let prompt = (1...3).map { "Line \($0): the ledger records transfer \($0 * 7) between wallets." }.joined(separator: "\n") + "\nLine 4:"

    func completion(_ server: TestServer, maxTokens: Int) throws -> (tokens: Int, prompt: Int, finish: String, cached: Int) {
        let reply = try server.client.post("/v1/completions", ["prompt": Self.prompt, "max_tokens": maxTokens, "temperature": 0])
        XCTAssertEqual(reply.status, 200, reply.text)
        let json = try reply.json()
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        let usage = try XCTUnwrap(json["usage"] as? [String: Any])
        let details = try XCTUnwrap(usage["prompt_tokens_details"] as? [String: Any])
        return (try XCTUnwrap(usage["completion_tokens"] as? Int), try XCTUnwrap(usage["prompt_tokens"] as? Int),
                try XCTUnwrap(choice["finish_reason"] as? String), try XCTUnwrap(details["cached_tokens"] as? Int))
    }

    func testSlotsShiftTheirContextAndGenerateOn() throws {
        var configuration = ServerConfiguration(port: 0, parallel: 1, contextLength: 96, alias: "smol", threads: 2)
        let plain = try TestServer(configuration: configuration)
        // Without a shift, a max_tokens the context cannot hold is refused (OpenAI's rule)…
        let refused = try plain.client.post("/v1/completions", ["prompt": Self.prompt, "max_tokens": 200, "temperature": 0])
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertTrue(refused.text.contains("context_length_exceeded"), refused.text)
        // …and one that fills it exactly ends with the context.
        let promptTokens = try XCTUnwrap(plain.server.servedModel).model.tokenizer.encode(Self.prompt, addSpecial: true).count
        let stopped = try completion(plain, maxTokens: 96 - promptTokens)
        XCTAssertEqual(stopped.tokens + stopped.prompt, 96, "the answer ends with the context")
        XCTAssertEqual(stopped.finish, "length")

        configuration.contextShift = ContextShift(keep: -1)
        let shifting = try TestServer(configuration: configuration)
        // The ledger pattern goes on well past the context (measured: 127 tokens, then the
        // model ends it itself), so the slot shifted at least once.
        let long = try completion(shifting, maxTokens: 200)
        XCTAssertGreaterThan(long.prompt + long.tokens, 96 + 16, "generation went on past the context")
        XCTAssertTrue(long.tokens == 200 ? long.finish == "length" : long.finish == "stop", "\(long)")
        // The slot, shifted and released, serves the same request again exactly as before
        // (its prompt is shorter than the 256-token reuse granularity, so it is evaluated anew).
        let again = try completion(shifting, maxTokens: 200)
        XCTAssertEqual(again.tokens, long.tokens)
        XCTAssertEqual(again.cached, 0)
    }
}
