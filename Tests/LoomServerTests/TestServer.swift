import Foundation
import LoomFormats
import LoomHub
import LoomKernels
import LoomModels
@testable import LoomServer

/// A real `LoomHTTPServer` on an ephemeral loopback port with the smollm2 test model,
/// started once per configuration and shared by the tests.
final class TestServer: @unchecked Sendable {
    let server: LoomHTTPServer
    let port: Int
    let client: RawHTTPClient
    private let task: Task<Void, Error>
    static let apiKey = "test-key-123"
    static let auth = ["Authorization": "Bearer \(apiKey)"]

    static func modelPath(_ name: String = "smollm2") throws -> String { try ModelStore().resolve(name, progress: .silent) }

    /// The server most tests share: 4 slots of 256 tokens, API key required.
    static let shared: Result<TestServer, Error> = Result {
        try TestServer(configuration: ServerConfiguration(port: 0, apiKey: apiKey, parallel: 4, contextLength: 256,
                                                          alias: "smol", threads: 2, queueLimit: 16))
    }

    /// A server like ``shared`` whose kernels keep activations in f32 everywhere, so its
    /// batched answers can be compared exactly with a float-path single-sequence session.
    static let floatPath: Result<TestServer, Error> = Result {
        var options = KernelOptions()
        options.integerActivations = false
        return try TestServer(configuration: ServerConfiguration(port: 0, apiKey: apiKey, parallel: 4, contextLength: 256,
                                                                 alias: "smol", threads: 2, queueLimit: 16, kernelOptions: options))
    }

    /// - Parameter model: a catalog name (the smollm2 test model by default).
    init(configuration: ServerConfiguration, model: String = "smollm2") throws {
        let path = try Self.modelPath(model)  // a catalog name or an existing path
        let server = LoomHTTPServer(configuration: configuration) { try LanguageModel(path: path) }
        self.server = server
        task = Task.detached { try await server.run(handleSignals: false) }
        guard let port = server.listeningPort(timeout: 30 * Self.timeScale) else {
            throw NSError(domain: "TestServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "server did not start"])
        }
        self.port = port
        client = RawHTTPClient(port: port)
        // Wait for the model (health is 503 until then).
        let deadline = Date().addingTimeInterval(60 * Self.timeScale)
        while Date() < deadline {
            if let reply = try? client.get("/health"), reply.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw NSError(domain: "TestServer", code: 2, userInfo: [NSLocalizedDescriptionKey: "model did not load"])
    }

    /// Stops the server gracefully and waits for it.
    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// How much slower than a plain release build the tests run: `LOOM_TEST_TIME_SCALE`
    /// (default 1). `scripts/sanitize.sh thread` sets it, because ThreadSanitizer makes
    /// generation about 20× slower and the wall-clock waits below would otherwise fail on
    /// speed, not on behaviour.
    static let timeScale: Double = {
        guard let text = ProcessInfo.processInfo.environment["LOOM_TEST_TIME_SCALE"] else { return 1 }
        guard let value = Double(text), value >= 1, value.isFinite else {
            fatalError("LOOM_TEST_TIME_SCALE must be a number ≥ 1, got \"\(text)\"")
        }
        return value
    }()

    /// Polls until `condition` holds or `timeout` (times ``timeScale``) passes.
    static func eventually(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout * timeScale)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }
}
