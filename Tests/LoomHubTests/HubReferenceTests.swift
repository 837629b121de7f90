import XCTest
@testable import LoomHub

/// `hf:` reference parsing and llama.cpp-style GGUF selection.
final class HubReferenceTests: XCTestCase {
    func testParsesEveryForm() throws {
        XCTAssertEqual(try ModelReference.parse("smollm2"), .local("smollm2"))
        XCTAssertEqual(try ModelReference.parse("./models/x.gguf"), .local("./models/x.gguf"))
        XCTAssertEqual(try ModelReference.parse("hf:Qwen/Qwen2.5-0.5B-Instruct"), .hub(HubReference(repository: "Qwen/Qwen2.5-0.5B-Instruct")))
        XCTAssertEqual(try ModelReference.parse("hf:bartowski/Llama-3.2-1B-Instruct-GGUF:q4_k_m"),
                       .hub(HubReference(repository: "bartowski/Llama-3.2-1B-Instruct-GGUF", quant: "q4_k_m")))
        XCTAssertEqual(try ModelReference.parse("hf:o/r/sub/Model-Q8_0.gguf@v1.0"),
                       .hub(HubReference(repository: "o/r", file: "sub/Model-Q8_0.gguf", revision: "v1.0")))
        XCTAssertEqual(try ModelReference.parse("hf:o/r:Q8_0@refs/pr/3"),
                       .hub(HubReference(repository: "o/r", quant: "Q8_0", revision: "refs/pr/3")))
        XCTAssertEqual("\(try ModelReference.parse("hf:o/r:Q8_0@dev"))", "hf:o/r:Q8_0@dev")
        XCTAssertEqual("\(try ModelReference.parse("hf:o/r@main"))", "hf:o/r")
    }

    func testMalformedReferencesNameTheExpectedForms() {
        for bad in ["hf:", "hf:onlyowner", "hf:/repo", "hf:o/r:", "hf:o/r@", "hf:o/r/weights.bin", "hf:o w/r",
                    "hf:o/r/../x.gguf", "hf:o/r/x.gguf:Q4_0", "hf:o/r:Q4 0"] {
            XCTAssertThrowsError(try ModelReference.parse(bad), bad) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("'\(bad)' is not a valid model reference"), text)
                XCTAssertTrue(text.contains("hf:OWNER/REPO:QUANT"), text)
            }
        }
    }

    private func files(_ names: [String]) -> [HubRemoteFile] {
        names.map { HubRemoteFile(path: $0, size: 1, sha256: nil, blobID: nil) }
    }

    func testQuantPicksTheMatchingGGUFIgnoringCase() throws {
        let repo = files(["README.md", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "mmproj-m-Q8_0.gguf"])
        let picked = try HubStore.select(repo, for: HubReference(repository: "o/r", quant: "q8_0"))
        XCTAssertEqual(picked.files.map(\.path), ["m-Q8_0.gguf"])
        XCTAssertEqual(picked.primary, "m-Q8_0.gguf")
        // No quant: Q4_K_M is preferred when present, as llama.cpp's -hf does.
        XCTAssertEqual(try HubStore.select(repo, for: HubReference(repository: "o/r")).primary, "m-Q4_K_M.gguf")
        XCTAssertEqual(try HubStore.select(files(["only.gguf", "x.json"]), for: HubReference(repository: "o/r")).primary, "only.gguf")
    }

    func testSeveralGGUFsAndNoQuantListsThem() {
        let repo = files(["m-Q5_K_S.gguf", "m-Q8_0.gguf"])
        XCTAssertThrowsError(try HubStore.select(repo, for: HubReference(repository: "o/r"))) { error in
            XCTAssertEqual(error as? HubError, .ambiguousGGUF(repository: "o/r", candidates: ["m-Q5_K_S.gguf", "m-Q8_0.gguf"]))
            XCTAssertTrue("\(error)".contains("m-Q5_K_S.gguf, m-Q8_0.gguf"), "\(error)")
        }
        XCTAssertThrowsError(try HubStore.select(repo, for: HubReference(repository: "o/r", quant: "Q2_K"))) { error in
            XCTAssertEqual(error as? HubError, .noMatchingQuant(repository: "o/r", quant: "Q2_K", ggufFiles: ["m-Q5_K_S.gguf", "m-Q8_0.gguf"]))
        }
        XCTAssertThrowsError(try HubStore.select(repo, for: HubReference(repository: "o/r", file: "m-F16.gguf"))) { error in
            XCTAssertTrue("\(error)".contains("has no file 'm-F16.gguf'"), "\(error)")
        }
    }

    func testSafetensorsRepositoryTakesConfigsTokenizerAndWeights() throws {
        let repo = files([".gitattributes", "README.md", "config.json", "model-00001-of-00002.safetensors",
                          "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json",
                          "pytorch_model.bin", "onnx/model.onnx", "merges.txt"])
        let picked = try HubStore.select(repo, for: HubReference(repository: "o/r"))
        XCTAssertNil(picked.primary)
        XCTAssertEqual(Set(picked.files.map(\.path)), ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                                       "model.safetensors.index.json", "tokenizer.json", "merges.txt"])
        XCTAssertThrowsError(try HubStore.select(files(["README.md", "pytorch_model.bin"]), for: HubReference(repository: "o/r"))) { error in
            guard case .nothingToFetch = error as? HubError else { return XCTFail("\(error)") }
        }
    }

    func testEnvironmentFollowsHuggingfaceHubConstants() {
        var config = HubConfiguration.fromEnvironment(["HOME": "/h"])
        XCTAssertEqual(config.cacheDirectory, "/h/.cache/huggingface/hub")
        XCTAssertEqual(config.endpoint, "https://huggingface.co")
        XCTAssertFalse(config.offline)
        XCTAssertNil(config.token)
        config = HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HF_ENDPOINT": "http://127.0.0.1:9/", "HF_TOKEN": "t",
                                                   "HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(config.cacheDirectory, "/hf/hub")
        XCTAssertEqual(config.endpoint, "http://127.0.0.1:9")
        XCTAssertEqual(config.token, "t")
        XCTAssertTrue(config.offline)
        XCTAssertEqual(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HOME": "/hf", "HF_HUB_CACHE": "/c"]).cacheDirectory, "/c")
        XCTAssertEqual(HubConfiguration.fromEnvironment(["HOME": "/h", "XDG_CACHE_HOME": "/x"]).cacheDirectory, "/x/huggingface/hub")
        XCTAssertTrue(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HUB_OFFLINE": "true"]).offline)
        XCTAssertFalse(HubConfiguration.fromEnvironment(["HOME": "/h", "HF_HUB_OFFLINE": "0"]).offline)
    }

    func testProgressShowsSpeedAndETA() {
        XCTAssertEqual(TerminalProgressRenderer.rate(bytes: 10_000_000, seconds: 2, remaining: 50_000_000), ", 5.0 MB/s, ETA 0:10")
        XCTAssertEqual(TerminalProgressRenderer.rate(bytes: 1_000_000, seconds: 1, remaining: 4_000_000_000), ", 1.0 MB/s, ETA 1:06:40")
        XCTAssertEqual(TerminalProgressRenderer.rate(bytes: 2_000_000, seconds: 1, remaining: 0), ", 2.0 MB/s")
        XCTAssertEqual(TerminalProgressRenderer.rate(bytes: 2_000_000, seconds: 0.2, remaining: 10), "", "too early for a rate")
    }

    func testRetryAfterAcceptsSecondsAndDates() {
        XCTAssertEqual(HubClient.retryAfterSeconds("3"), 3)
        XCTAssertEqual(HubClient.retryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), 0)   // in the past
        XCTAssertNil(HubClient.retryAfterSeconds("soon"))
        XCTAssertEqual(HubClient.normalizeETag("W/\"ABC\""), "abc")
        XCTAssertEqual(HubClient.rangeStart("bytes 100-199/200"), 100)
        XCTAssertEqual(HubClient.escapeSegment("refs/pr/1"), "refs%2Fpr%2F1")
    }
}
