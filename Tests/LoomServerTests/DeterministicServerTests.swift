import Foundation
import XCTest
@testable import LoomKernels
@testable import LoomServer

/// `loom serve --deterministic` (batch-invariant products): what lm-evaluation-harness found
/// (issue 26 item 6) was the same prompt scoring −80.2414 with 4 copies running at once and
/// −80.1988 alone. With batch invariance every request gets bit for bit the log-probs and
/// answer it gets alone, whatever else the server is doing.
final class DeterministicServerTests: XCTestCase {
    static let server: Result<TestServer, Error> = Result {
        try TestServer(configuration: ServerConfiguration(port: 0, parallel: 4, contextLength: 512, alias: "smol", threads: 2,
                                                          kernelOptions: .default))
    }

    /// Prompts of different lengths (one under a lane group, one over the 16-row prompt kernel
    /// threshold), each scored (`echo`) and continued greedily with log-probs.
    static let prompts = [
        "The capital of France is",
        "Question: A wallet sends 3 coins to an exchange, which credits them after twelve confirmations. How many confirmations did the exchange wait for?\nAnswer:",
        "def fibonacci(n):",
        "Once upon a time",
    ]

    func request(_ client: RawHTTPClient, _ prompt: String) throws -> [Double] {
        let reply = try client.post("/v1/completions", [
            "prompt": prompt, "max_tokens": 10, "temperature": 0, "echo": true, "logprobs": 1,
        ])
        XCTAssertEqual(reply.status, 200, reply.text)
        let choice = try XCTUnwrap((try reply.json()["choices"] as? [[String: Any]])?.first)
        let values = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["token_logprobs"] as? [Any])
        return values.compactMap { $0 as? Double }
    }

    func testConcurrentRequestsScoreExactlyAsAlone() throws {
        let server = try Self.server.get()
        let alone = try Self.prompts.map { try request(server.client, $0) }
        XCTAssertTrue(alone.allSatisfy { $0.count > 10 })
        for round in 0..<2 {
            let lock = NSLock()
            nonisolated(unsafe) var together = [[Double]](repeating: [], count: Self.prompts.count)
            // The four prompts at once, and in the second round four copies of the long one too.
            let batch = round == 0 ? Self.prompts : Self.prompts + Array(repeating: Self.prompts[1], count: 4)
            nonisolated(unsafe) var extra = [[Double]](repeating: [], count: batch.count)
            DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                let scored = (try? self.request(RawHTTPClient(port: server.port), batch[i])) ?? []
                lock.withLock { if i < Self.prompts.count { together[i] = scored } else { extra[i] = scored } }
            }
            for i in Self.prompts.indices {
                XCTAssertEqual(together[i], alone[i], "round \(round), prompt \(i): log-probs depend on the load")
            }
            for i in Self.prompts.count..<batch.count { XCTAssertEqual(extra[i], alone[1], "round \(round), copy \(i)") }
        }
    }
}
