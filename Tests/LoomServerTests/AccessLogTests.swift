import Foundation
import Logging
import XCTest
@testable import LoomServer

/// The server's logging through the configured `Logger`: one access line per request
/// (method, path, status, milliseconds) and, at debug level, the load details.
final class AccessLogTests: XCTestCase {
    /// Lines logged through a ``CapturingLogHandler``, in order.
    final class Capture: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func append(_ line: String) { lock.withLock { stored.append(line) } }
        var lines: [String] { lock.withLock { stored } }
    }

    struct CapturingLogHandler: LogHandler {
        let capture: Capture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) { capture.append("\(event.level) \(event.message)") }
    }

    func testAccessLineForEveryRequestAndLoadDetailsAtDebug() async throws {
        let capture = Capture()
        let logger = Logger(label: "loom.test") { _ in CapturingLogHandler(capture: capture) }
        let server = try TestServer(configuration: ServerConfiguration(port: 0, parallel: 1, contextLength: 128, threads: 2,
                                                                       queueLimit: 4, logger: logger))
        XCTAssertEqual(try server.client.get("/nowhere").status, 404)
        let streamed = try server.client.post("/v1/completions", ["prompt": "Hello", "max_tokens": 2, "stream": true])
        XCTAssertEqual(streamed.status, 200)
        XCTAssertTrue(streamed.text.contains("[DONE]"), streamed.text)
        await server.stop()

        let lines = capture.lines
        func accessLines(_ prefix: String) -> [String] { lines.filter { $0.hasPrefix("info \(prefix) ") } }
        // The model-loaded wait polls /health (503 then 200): each poll is one line.
        XCTAssertFalse(accessLines("GET /health 200").isEmpty, "\(lines)")
        XCTAssertEqual(accessLines("GET /nowhere 404").count, 1, "\(lines)")
        let completion = try XCTUnwrap(accessLines("POST /v1/completions 200").first, "\(lines)")
        // "… 200 12.3 ms": a non-negative number of milliseconds.
        let parts = completion.split(separator: " ")
        XCTAssertEqual(parts.last, "ms")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(Double(parts[parts.count - 2])), 0)
        XCTAssertTrue(lines.contains { $0.hasPrefix("debug loaded ") && $0.hasSuffix(".gguf") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("debug architecture llama") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("debug threads 2, 1 slots × context 128 tokens") && $0.contains("KV cache") }, "\(lines)")
    }
}
