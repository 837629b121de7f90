import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import XCTest
@testable import LoomHub

/// `HubStore` and `HubClient` against `FakeHubServer` on loopback: listing, redirects, Range
/// resume, hashes, auth, the HF cache layout, offline use, and faults (dropped connections,
/// wrong hashes, 401, 404, 429 with Retry-After, a stalled server).
final class HubDownloadTests: XCTestCase {
    private var dir = ""
    private var server: FakeHubServer!
    private var endpoint = ""
    private let gguf = FakeHubServer.File(path: "tiny-Q8_0.gguf", bytes: ModelStoreTestSupport.randomBytes(300_000, seed: 1), lfs: true)
    private let otherGGUF = FakeHubServer.File(path: "tiny-Q4_K_M.gguf", bytes: ModelStoreTestSupport.randomBytes(200_000, seed: 2), lfs: true)
    private let readme = FakeHubServer.File(path: "README.md", bytes: Array("# tiny\n".utf8), lfs: false)

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("hub")
        server = FakeHubServer(repository: "loom-test/tiny-GGUF", files: [readme, gguf, otherGGUF])
        endpoint = try server.start()
    }

    override func tearDown() {
        server.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func store(token: String? = nil, offline: Bool = false, attempts: Int = 3, readTimeout: Double = 5) -> HubStore {
        var config = HubConfiguration(endpoint: endpoint, token: token, offline: offline, cacheDirectory: dir + "/hub", usageDirectory: dir + "/used")
        config.maxAttempts = attempts
        config.retryBaseDelay = 0.01
        config.readTimeout = readTimeout
        config.connectTimeout = 1
        return HubStore(configuration: config)
    }

    private func ref(_ text: String) throws -> HubReference {
        guard case let .hub(reference) = try ModelReference.parse(text) else { throw XCTSkip("not a hub reference") }
        return reference
    }

    private func contents(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func testQuantDownloadsThroughTheRedirectIntoTheHFCacheLayout() throws {
        let hub = store()
        let path = try hub.resolve(try ref("hf:loom-test/tiny-GGUF:q8_0"), progress: .silent)
        let repoDir = dir + "/hub/models--loom-test--tiny-GGUF"
        XCTAssertEqual(path, "\(repoDir)/snapshots/\(server.commit)/tiny-Q8_0.gguf")
        XCTAssertEqual(try contents(path), gguf.bytes)
        // The snapshot file is a relative link to the blob named by its SHA-256, as huggingface_hub makes it.
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path), "../../blobs/\(gguf.sha256)")
        XCTAssertEqual(try String(contentsOfFile: "\(repoDir)/refs/main", encoding: .utf8), server.commit)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(repoDir)/blobs"), [gguf.sha256])
        let paths = server.requests.map(\.path)
        XCTAssertEqual(paths, ["/api/models/loom-test/tiny-GGUF/revision/main",
                               "/loom-test/tiny-GGUF/resolve/\(server.commit)/tiny-Q8_0.gguf", "/cdn/\(gguf.sha256)"])
        XCTAssertNotNil(hub.lastUsed("loom-test/tiny-GGUF"))

        // Cached now: the next resolve lists the repository again but downloads nothing.
        XCTAssertEqual(try hub.resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent), path)
        XCTAssertEqual(server.requests.count, 4)
        // No quant: the Q4_K_M file is preferred.
        XCTAssertTrue(try hub.resolve(try ref("hf:loom-test/tiny-GGUF"), progress: .silent).hasSuffix("/tiny-Q4_K_M.gguf"))
    }

    func testShardedSafetensorsRepositoryDownloadsEveryFileAtOnce() throws {
        let shards = (1...3).map { FakeHubServer.File(path: "model-0000\($0)-of-00003.safetensors",
                                                      bytes: ModelStoreTestSupport.randomBytes(150_000, seed: UInt64(10 + $0)), lfs: true) }
        let config = FakeHubServer.File(path: "config.json", bytes: Array(#"{"model_type":"llama"}"#.utf8), lfs: false)
        server.files = shards + [config, readme]
        let events = ModelStoreTestSupport.EventLog()
        let path = try store().resolve(try ref("hf:loom-test/tiny-GGUF@main"), progress: events.progress)
        XCTAssertEqual(path, dir + "/hub/models--loom-test--tiny-GGUF/snapshots/\(server.commit)")
        for file in shards + [config] {
            XCTAssertEqual(try contents(path + "/" + file.path), file.bytes, file.path)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/README.md"))
        XCTAssertTrue(events.phases.contains { $0.hasPrefix("Downloading 4 files of loom-test/tiny-GGUF") }, "\(events.phases)")
    }

    /// Two resolves of the same file at once (each with its own lock descriptor, as two
    /// processes would have): one downloads, the other waits for the lock and finds the blob.
    func testConcurrentResolvesDownloadOnce() throws {
        server.fault = { request, _, normal in
            guard request.path.hasPrefix("/cdn/") else { return nil }
            var reply = normal
            reply.stall = .milliseconds(300)   // keep the first download busy while the second arrives
            return reply
        }
        let lock = NSLock()
        var results: [Result<String, Error>] = []
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let result = Result { try self.store().resolve(try self.ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent) }
            lock.lock(); results.append(result); lock.unlock()
        }
        let paths = try results.map { try $0.get() }
        XCTAssertEqual(paths[0], paths[1])
        XCTAssertEqual(try contents(paths[0]), gguf.bytes)
        XCTAssertEqual(server.requests.filter { $0.path.hasPrefix("/cdn/") }.count, 1)
    }

    func testDroppedConnectionResumesWithRange() throws {
        server.fault = { request, index, normal in
            guard request.path.hasPrefix("/cdn/"), index == 0 else { return nil }
            var reply = normal
            reply.dropAfter = 100_000
            return reply
        }
        let events = ModelStoreTestSupport.EventLog()
        let path = try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: events.progress)
        XCTAssertEqual(try contents(path), gguf.bytes)
        let cdn = server.requests.filter { $0.path.hasPrefix("/cdn/") }
        XCTAssertEqual(cdn.count, 2)
        XCTAssertNil(cdn[0].headers.first(name: "Range"))
        // The second try asks for the rest of what the first one wrote (at most what was sent
        // before the drop; the client may not have read the last bytes in flight).
        let range = cdn[1].headers.first(name: "Range") ?? ""
        let resumedAt = Int(range.dropFirst("bytes=".count).dropLast()) ?? -1
        XCTAssertTrue(range.hasPrefix("bytes=") && range.hasSuffix("-") && (1...100_000).contains(resumedAt), range)
        XCTAssertTrue(events.phases.contains { $0.contains("retrying in") }, "\(events.phases)")
    }

    func testInterruptedDownloadLeavesOnlyTheIncompleteFileAndTheNextRunResumes() throws {
        server.fault = { request, index, normal in
            guard request.path.hasPrefix("/cdn/"), index == 0 else { return nil }
            var reply = normal
            reply.dropAfter = 120_000
            return reply
        }
        XCTAssertThrowsError(try store(attempts: 1).resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("gave up after 1 try"), "\(error)")
        }
        let blob = dir + "/hub/models--loom-test--tiny-GGUF/blobs/" + gguf.sha256
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob))
        let kept = HubCache.regularFileSize(blob + ".incomplete") ?? 0
        XCTAssertTrue((1...120_000).contains(kept), "\(kept) bytes kept")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/hub/models--loom-test--tiny-GGUF/snapshots/\(server.commit)/tiny-Q8_0.gguf"))

        let path = try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)
        XCTAssertEqual(try contents(path), gguf.bytes)
        XCTAssertEqual(server.requests.last?.headers.first(name: "Range"), "bytes=\(kept)-")
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob + ".incomplete"))
    }

    #if os(Linux)
    /// A full disk (here: a file-size limit, which fails writes the same way) stops the
    /// download with an error naming the file; only `.incomplete` holds the bytes, and the next
    /// run resumes from them.
    func testFullDiskKeepsNothingUnderTheFinalName() throws {
        signal(SIGXFSZ, SIG_IGN)
        var saved = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        var limited = saved
        limited.rlim_cur = 150_000
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited)
        let result = Result { try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent) }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved)
        XCTAssertThrowsError(try result.get()) { error in
            guard case let .io(path, message) = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix(gguf.sha256 + ".incomplete"), path)
            XCTAssertTrue(message.contains("cannot write"), message)
        }
        let blob = dir + "/hub/models--loom-test--tiny-GGUF/blobs/" + gguf.sha256
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/hub/models--loom-test--tiny-GGUF/snapshots/\(server.commit)/tiny-Q8_0.gguf"))
        XCTAssertEqual(server.requests.filter { $0.path.hasPrefix("/cdn/") }.count, 1, "a disk error is not retried")

        let path = try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)
        XCTAssertEqual(try contents(path), gguf.bytes)
        XCTAssertEqual(server.requests.last?.headers.first(name: "Range"), "bytes=150000-")
    }
    #endif

    func testWrongHashDeletesTheFileAndSaysSo() throws {
        server.fault = { request, _, normal in
            guard request.path.hasPrefix("/cdn/") else { return nil }
            var reply = normal
            reply.body[1000] ^= 0xFF
            return reply
        }
        XCTAssertThrowsError(try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)) { error in
            guard case let .checksumMismatch(file, expected, _) = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "tiny-Q8_0.gguf")
            XCTAssertEqual(expected, gguf.sha256)
            XCTAssertTrue("\(error)".contains("The file was deleted"), "\(error)")
        }
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/hub/models--loom-test--tiny-GGUF/blobs")) ?? []
        XCTAssertEqual(blobs, [])
    }

    func testHeaderHashThatDisagreesWithTheListingIsRefused() throws {
        server.fault = { request, _, normal in
            guard request.path.contains("/resolve/") else { return nil }
            var reply = normal
            reply.headers = reply.headers.map { $0.0 == "X-Linked-Etag" ? ($0.0, "\"\(String(repeating: "a", count: 64))\"") : $0 }
            return reply
        }
        XCTAssertThrowsError(try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)) { error in
            guard case .inconsistentMetadata = error as? HubError else { return XCTFail("\(error)") }
        }
    }

    func testTokenIsRequiredAndSent() throws {
        server.token = "secret"
        XCTAssertThrowsError(try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)) { error in
            XCTAssertEqual(error as? HubError, .unauthorized(url: "\(endpoint)/api/models/loom-test/tiny-GGUF/revision/main?blobs=true", status: 401, hadToken: false))
            XCTAssertTrue("\(error)".contains("Set HF_TOKEN"), "\(error)")
        }
        XCTAssertThrowsError(try store(token: "wrong").resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("the token in HF_TOKEN is not allowed"), "\(error)")
        }
        let path = try store(token: "secret").resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)
        XCTAssertEqual(try contents(path), gguf.bytes)
        XCTAssertTrue(server.requests.suffix(3).allSatisfy { $0.headers.first(name: "Authorization") == "Bearer secret" })
    }

    func testNotFoundNamesWhatIsMissing() throws {
        XCTAssertThrowsError(try store().resolve(try ref("hf:loom-test/missing"), progress: .silent)) { error in
            guard case let .notFound(url, what) = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertTrue(url.contains("/api/models/loom-test/missing/revision/main"), url)
            XCTAssertTrue(what.contains("Repository not found"), what)
        }
        server.fault = { request, _, _ in
            request.path.contains("/resolve/") ? FakeHubServer.Reply(status: .notFound, headers: [("X-Error-Message", "Entry not found")]) : nil
        }
        XCTAssertThrowsError(try store().resolve(try ref("hf:loom-test/tiny-GGUF/tiny-Q8_0.gguf"), progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("file tiny-Q8_0.gguf of loom-test/tiny-GGUF"), "\(error)")
        }
        XCTAssertEqual(server.requests.filter { $0.path.contains("/resolve/") }.count, 1, "404 is not retried")
    }

    func testTooManyRequestsWaitsForRetryAfter() throws {
        server.fault = { request, index, _ in
            guard request.path.hasPrefix("/api/"), index == 0 else { return nil }
            return FakeHubServer.Reply(status: .tooManyRequests, headers: [("Retry-After", "1")])
        }
        let events = ModelStoreTestSupport.EventLog()
        let start = Date()
        let path = try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: events.progress)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.95, "waited for Retry-After, not the 0.01 s back-off")
        XCTAssertEqual(try contents(path), gguf.bytes)
        XCTAssertTrue(events.phases.contains { $0.hasPrefix("HTTP 429; retrying in 1.0 s") }, "\(events.phases)")

        // A server that keeps answering 503 is given up on after the last try.
        server.fault = { request, _, _ in request.path.hasPrefix("/api/") ? FakeHubServer.Reply(status: .serviceUnavailable) : nil }
        XCTAssertThrowsError(try store(attempts: 2).resolve(try ref("hf:loom-test/other"), progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("HTTP 503") && "\(error)".contains("gave up after 2 tries"), "\(error)")
        }
    }

    func testStalledServerTimesOutAndIsRetried() throws {
        server.fault = { request, index, normal in
            guard request.path.hasPrefix("/cdn/"), index < 2 else { return nil }
            var reply = normal
            reply.stall = .seconds(3)
            return reply
        }
        // Two stalls, then a prompt answer: the third try succeeds.
        let path = try store(attempts: 3, readTimeout: 0.3).resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)
        XCTAssertEqual(try contents(path), gguf.bytes)

        server.fault = { request, _, normal in
            guard request.path.hasPrefix("/cdn/") else { return nil }
            var reply = normal
            reply.stall = .seconds(3)
            return reply
        }
        XCTAssertThrowsError(try store(attempts: 2, readTimeout: 0.3).resolve(try ref("hf:loom-test/tiny-GGUF:Q4_K_M"), progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("read timeout"), "\(error)")
        }
    }

    func testOfflineUsesOnlyTheCacheAndNamesWhatIsMissing() throws {
        XCTAssertThrowsError(try store(offline: true).resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)) { error in
            guard case let .offlineMissing(reference, missing) = error as? HubError else { return XCTFail("\(error)") }
            XCTAssertEqual(reference, "hf:loom-test/tiny-GGUF:Q8_0")
            XCTAssertTrue(missing.contains("no snapshot of revision 'main'"), missing)
        }
        XCTAssertTrue(server.requests.isEmpty)
        let online = try store().resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)
        let count = server.requests.count
        XCTAssertEqual(try store(offline: true).resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent), online)
        XCTAssertThrowsError(try store(offline: true).resolve(try ref("hf:loom-test/tiny-GGUF:Q4_K_M"), progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("offline: hf:loom-test/tiny-GGUF:Q4_K_M is not fully cached"), "\(error)")
        }
        XCTAssertEqual(server.requests.count, count, "offline sent nothing")

        // An unreachable hub falls back to the cached snapshot.
        server.stop()
        let events = ModelStoreTestSupport.EventLog()
        XCTAssertEqual(try store(attempts: 1).resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: events.progress), online)
        XCTAssertTrue(events.phases.contains { $0.contains("using the cached copy") }, "\(events.phases)")
    }

    func testModelStoreResolvesHubReferences() throws {
        var modelStore = ModelStore(cacheDirectory: dir + "/loom")
        modelStore.hub = store()
        let path = try modelStore.resolve("hf:loom-test/tiny-GGUF/tiny-Q8_0.gguf", progress: .silent)
        XCTAssertEqual(try contents(path), gguf.bytes)
        XCTAssertThrowsError(try modelStore.resolve("hf:loom-test", progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("Expected hf:OWNER/REPO"), "\(error)")
        }
    }

    func testCacheListsAndRemovesFiles() throws {
        let hub = store()
        let q8 = try hub.resolve(try ref("hf:loom-test/tiny-GGUF:Q8_0"), progress: .silent)
        _ = try hub.resolve(try ref("hf:loom-test/tiny-GGUF:Q4_K_M"), progress: .silent)
        XCTAssertEqual(hub.cache.repositories(), ["loom-test/tiny-GGUF"])
        XCTAssertEqual(hub.cache.blobBytes("loom-test/tiny-GGUF"), 500_000)
        XCTAssertEqual(hub.cache.snapshotFiles("loom-test/tiny-GGUF", commit: server.commit).map(\.path), ["tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf"])
        try hub.cache.removeFile("loom-test/tiny-GGUF", commit: server.commit, file: "tiny-Q8_0.gguf")
        XCTAssertFalse(FileManager.default.fileExists(atPath: q8))
        XCTAssertEqual(hub.cache.blobBytes("loom-test/tiny-GGUF"), 200_000)
        // A blob that is itself a link (a cache laid out by hand) is removed, never its target.
        let outside = dir + "/outside.gguf"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: outside))
        let blobs = dir + "/hub/models--loom-test--tiny-GGUF/blobs/"
        try FileManager.default.createSymbolicLink(atPath: blobs + "linked", withDestinationPath: outside)
        try hub.cache.link("loom-test/tiny-GGUF", commit: server.commit, file: "sub/linked.gguf", etag: "linked")
        XCTAssertEqual(try contents(dir + "/hub/models--loom-test--tiny-GGUF/snapshots/\(server.commit)/sub/linked.gguf"), [1, 2, 3])
        try hub.cache.removeFile("loom-test/tiny-GGUF", commit: server.commit, file: "sub/linked.gguf")
        XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: blobs + "linked"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: outside))
        XCTAssertEqual(HubCache.lexical("/a//b/./c/../d"), "/a/b/d")
        try hub.cache.removeRepository("loom-test/tiny-GGUF")
        XCTAssertEqual(hub.cache.repositories(), [])
    }
}
