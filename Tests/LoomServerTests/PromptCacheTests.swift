import Foundation
import XCTest
@testable import LoomServer

/// Prompt-prefix reuse (llama.cpp's `cache_prompt`): a request starts from the longest prefix
/// of its prompt a free slot still holds (with `--deterministic`, all of it but the last token,
/// across prompt-chunk boundaries: prompt rows are batch-invariant), reports it as
/// `usage.prompt_tokens_details.cached_tokens`, and answers exactly as a cold request does.
final class PromptCacheTests: XCTestCase {
    /// One slot, so every request lands where the previous one left its cache.
    static let oneSlot: Result<TestServer, Error> = Result {
        try TestServer(configuration: ServerConfiguration(port: 0, parallel: 1, contextLength: 1024, alias: "smol", threads: 2,
                                                          kernelOptions: .default))
    }

    /// A ~390-token document and two questions about it.
    static let document = (1...24).map { "Line \($0): the ledger records transfer \($0 * 7) between wallets." }.joined(separator: "\n")

    func completion(_ server: TestServer, _ prompt: String, cachePrompt: Bool? = nil) throws -> (text: String, logprobs: [Double], cached: Int, prompt: Int) {
        var body: [String: Any] = ["prompt": prompt, "max_tokens": 12, "temperature": 0, "logprobs": 3]
        if let cachePrompt { body["cache_prompt"] = cachePrompt }
        let reply = try server.client.post("/v1/completions", body)
        XCTAssertEqual(reply.status, 200, reply.text)
        let json = try reply.json()
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        let logprobs = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["token_logprobs"] as? [Double])
        let usage = try XCTUnwrap(json["usage"] as? [String: Any])
        let details = try XCTUnwrap(usage["prompt_tokens_details"] as? [String: Any])
        return (try XCTUnwrap(choice["text"] as? String), logprobs, try XCTUnwrap(details["cached_tokens"] as? Int),
                try XCTUnwrap(usage["prompt_tokens"] as? Int))
    }

    func testSharedPrefixIsReusedAndAnswersMatchColdRequests() throws {
        let server = try Self.oneSlot.get()
        let first = Self.document + "\nQuestion: which line records transfer 70?\nAnswer:"
        let second = Self.document + "\nQuestion: what does line 3 record?\nAnswer:"

        let cold = try completion(server, first, cachePrompt: false)
        XCTAssertEqual(cold.cached, 0, "cache_prompt: false evaluates the whole prompt")
        // The same prompt again: everything but the last token comes from the cache.
        let again = try completion(server, first)
        XCTAssertEqual(again.cached, again.prompt - 1)
        XCTAssertGreaterThan(again.cached, 0)
        XCTAssertEqual(again.text, cold.text, "a cached prefix must not change the answer")
        XCTAssertEqual(again.logprobs, cold.logprobs, "bit-identical log-probabilities")

        // Another question about the same document: the document is reused.
        let warm = try completion(server, second)
        XCTAssertGreaterThan(warm.cached, 256, "the shared document, past the first prompt chunk")
        XCTAssertLessThan(warm.cached, warm.prompt - 5, "only the shared document")
        let coldSecond = try completion(server, second, cachePrompt: false)
        XCTAssertEqual(coldSecond.cached, 0)
        XCTAssertEqual(warm.text, coldSecond.text)
        XCTAssertEqual(warm.logprobs, coldSecond.logprobs)
        print("prompt cache: \(warm.cached) of \(warm.prompt) prompt tokens reused")

        let metrics = try server.client.get("/metrics").text
        XCTAssertTrue(metrics.contains("loom:prompt_tokens_cached_total"), metrics)
    }

    /// The cache is chosen per slot: with two slots holding two documents, each follow-up
    /// goes to the slot with its own document.
    func testTheSlotWithTheLongestMatchIsChosen() throws {
        let server = try TestServer(configuration: ServerConfiguration(port: 0, parallel: 2, contextLength: 1024, alias: "smol", threads: 2,
                                                                       kernelOptions: .default))
        let a = Self.document, b = String(Self.document.reversed())
        // Fill both slots at once so each document lands in its own slot.
        let group = DispatchGroup()
        for doc in [a, b] {
            group.enter()
            DispatchQueue.global().async {
                _ = try? server.client.post("/v1/completions", ["prompt": doc + "\nQ:", "max_tokens": 1, "temperature": 0])
                group.leave()
            }
        }
        group.wait()
        let followA = try completion(server, a + "\nQ: first line?")
        let followB = try completion(server, b + "\nQ: last line?")
        XCTAssertGreaterThanOrEqual(followA.cached, 256, "A's follow-up found A's slot: \(followA.cached)")
        XCTAssertGreaterThanOrEqual(followB.cached, 256, "B's follow-up found B's slot: \(followB.cached)")
    }
}
