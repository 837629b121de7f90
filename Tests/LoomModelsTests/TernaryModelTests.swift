import Foundation
import Crypto
import XCTest
@testable import LoomKernels
@testable import LoomFormats
import LoomHub
@testable import LoomModels

/// TQ1_0 and TQ2_0 models end to end: a tiny synthetic llama written by Loom's GGUF writer and
/// quantised by `GGUFQuantizer` (the code behind `loom quantize`) must hold exactly the tensors
/// gguf-py makes, and predict what a float64 numpy forward pass over gguf-py's dequantised
/// weights predicts (scripts/gen_ternary_model_fixtures.py); SmolLM2 quantised to TQ2_0 runs
/// and its ternary tensors round-trip.
final class TernaryModelTests: XCTestCase {
    struct Fixture: Decodable {
        struct Model: Decodable {
            let sha256: [String: String]
            let logprobs: [[Double]]
            /// llama.cpp's greedy continuation of `ids` with the token embedding (tied head) F32,
            /// per KV cache type ("f32", "f16").
            let llamacpp_greedy: [String: [Int]]
            /// llama.cpp's top-1/top-2 logit gap at each greedy step.
            let llamacpp_gaps: [String: [Double]]
        }
        let ids: [Int]
        let more: [Int]
        let types: [String: Model]
    }

    static func synthetic() -> SyntheticModel {
        var m = SyntheticModel()
        m.embedding = 256
        m.heads = 4
        m.kvHeads = 2
        m.feedForward = 512
        m.layers = 2
        return m
    }

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-ternary-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Largest |Δ log-prob| between Loom and the reference over every token, after the prompt
    /// and after each later token.
    func worstDifference(_ path: String, _ fixture: Fixture, _ expected: [[Double]], options: KernelOptions) throws -> Double {
        let model = try LanguageModel(path: path)
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), options: options, cacheTypes: .f32)
        var steps = [ReferenceLogitsTests.logSoftmax(try session.evaluate(fixture.ids))]
        for token in fixture.more { steps.append(ReferenceLogitsTests.logSoftmax(try session.evaluate([token]))) }
        var worst = 0.0
        for (got, want) in zip(steps, expected) {
            XCTAssertEqual(got.count, want.count)
            for (g, w) in zip(got, want) { worst = max(worst, abs(g - w)) }
            // Same greedy choice wherever the reference's top two are not nearly tied.
            let sorted = want.sorted(by: >)
            if sorted[0] - sorted[1] > 0.05 {
                XCTAssertEqual(got.indices.max { got[$0] < got[$1] }, want.indices.max { want[$0] < want[$1] })
            }
        }
        return worst
    }

    /// The fixture, a temporary directory, and the synthetic F32 model written into it.
    func syntheticSource() throws -> (Fixture, String, String) {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "ternary_synthetic_reference", withExtension: "json", subdirectory: "Fixtures"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let dir = try temporaryDirectory()
        var m = Self.synthetic()
        let source = dir + "/source.gguf"
        try FileManager.default.moveItem(atPath: try m.write(), toPath: source)
        return (fixture, dir, source)
    }

    func testSyntheticTernaryModelsMatchTheReference() throws {
        let (fixture, dir, source) = try syntheticSource()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, fileType) in [("TQ1_0", QuantizationFileType.mostlyTQ1_0), ("TQ2_0", .mostlyTQ2_0)] {
            let expected = try XCTUnwrap(fixture.types[name])
            var quantizer = GGUFQuantizer(fileType: fileType, threads: 2)
            quantizer.pure = true
            let path = dir + "/\(name).gguf"
            try quantizer.quantize(input: source, output: path)
            // The very tensors gguf-py makes of the same floats.
            let file = try GGUFFile(path: path)
            let matrices = file.tensors.filter { $0.dimensions.count == 2 }
            XCTAssertEqual(matrices.count, expected.sha256.count)
            for t in matrices {
                XCTAssertEqual(t.type.description, name, t.name)
                XCTAssertEqual(SHA256.hash(data: Array(file.bytes(for: t))).hex, expected.sha256[t.name], "\(name) \(t.name)")
            }
            var float = KernelOptions()
            float.integerActivations = false
            let floatWorst = try worstDifference(path, fixture, expected.logprobs, options: float)
            let integerWorst = try worstDifference(path, fixture, expected.logprobs, options: .default)
            print("\(name) synthetic: worst |Δ log-prob| float path \(floatWorst), integer path \(integerWorst)")
            // Float kernels: f16 KV cache and float32 rounding only (measured 3e-7). Integer kernels add the
            // 8-bit activation rounding (1/254 of each 256-block's range) in every product (measured 0.015).
            XCTAssertLessThanOrEqual(floatWorst, 1e-4, name)
            XCTAssertLessThanOrEqual(integerWorst, 0.05, name)
        }
    }

    /// Greedy continuation equal to llama.cpp's (llama-cpp-python) on the same TQ1_0/TQ2_0
    /// tensors, with the embedding and tied head kept F32 (see the script for why): all 24
    /// tokens with an F32 KV cache; with an F16 cache up to llama.cpp's first near tie. Loom's
    /// prompt (≥ 16 rows) and decode (1 row) kernels both run, with activations quantised as
    /// ggml's q8_K.
    func testGreedyContinuationEqualsLlamaCpp() throws {
        let (fixture, dir, source) = try syntheticSource()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, fileType) in [("TQ1_0", QuantizationFileType.mostlyTQ1_0), ("TQ2_0", .mostlyTQ2_0)] {
            let expected = try XCTUnwrap(fixture.types[name])
            var quantizer = GGUFQuantizer(fileType: fileType, threads: 2)
            quantizer.pure = true
            quantizer.typeOverrides = ["token_embd.weight": .f32]
            let path = dir + "/\(name)-f32-head.gguf"
            try quantizer.quantize(input: source, output: path)
            let model = try LanguageModel(path: path)
            for (cache, types) in [("f32", KVCacheTypes.f32), ("f16", KVCacheTypes(.f16))] {
                let reference = try XCTUnwrap(expected.llamacpp_greedy[cache])
                let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: types)
                var logits = try session.evaluate(fixture.ids)
                var greedy: [Int] = []
                for _ in reference.indices {
                    let next = logits.indices.max { logits[$0] < logits[$1] }!
                    greedy.append(next)
                    logits = try session.evaluate([next])
                }
                if cache == "f32" {
                    XCTAssertEqual(greedy, reference, "\(name), \(cache) cache: Loom's greedy tokens against llama.cpp's")
                } else {
                    // llama.cpp rounds Q to f16 for its KQ product with an f16 cache; Loom keeps
                    // Q in f32. Equal up to the first step where llama.cpp's top two are within
                    // 0.002 (its step 18: 0.0005), where that rounding decides.
                    let gaps = try XCTUnwrap(expected.llamacpp_gaps[cache])
                    let agreed = gaps.firstIndex { $0 < 0.002 } ?? gaps.count
                    XCTAssertGreaterThanOrEqual(agreed, 10)
                    XCTAssertEqual(Array(greedy.prefix(agreed)), Array(reference.prefix(agreed)), "\(name), f16 cache")
                }
            }
        }
    }

    /// Rows that TQ blocks cannot hold: the default mix falls back to Q4_0 as llama-quantize
    /// does; forcing TQ2_0 on such a tensor is an error naming the tensor and the sizes.
    func testRowsThatAreNotWholeBlocks() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var m = SyntheticModel()  // 32-wide rows
        let source = try m.write()
        defer { try? FileManager.default.removeItem(atPath: source) }
        try GGUFQuantizer(fileType: .mostlyTQ2_0, threads: 2).quantize(input: source, output: dir + "/fallback.gguf")
        let types = Set(try GGUFFile(path: dir + "/fallback.gguf").tensors.filter { $0.dimensions.count == 2 }.map(\.type))
        // As llama-quantize: Q4_0 instead of TQ2_0; the tied output/embedding Q8_0; ffn_down's
        // 48-wide rows fit neither, so F16.
        XCTAssertEqual(types, [.q4_0, .q8_0, .f16])
        var forced = GGUFQuantizer(fileType: .mostlyTQ2_0, threads: 2)
        forced.typeOverrides = ["blk.0.ffn_up.weight": .tq2_0]
        XCTAssertThrowsError(try forced.quantize(input: source, output: dir + "/forced.gguf")) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("blk.0.ffn_up.weight") && message.contains("rows of 32 elements")
                          && message.contains("TQ2_0 block size 256"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/forced.gguf"))
    }

    /// A TQ file cut short is refused when opened, naming the tensor that does not fit.
    func testTruncatedTernaryTensorIsNamed() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var m = Self.synthetic()
        let source = try m.write()
        defer { try? FileManager.default.removeItem(atPath: source) }
        var quantizer = GGUFQuantizer(fileType: .mostlyTQ1_0, threads: 2)
        quantizer.pure = true
        let path = dir + "/tq1.gguf"
        try quantizer.quantize(input: source, output: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let last = try XCTUnwrap(try GGUFFile(path: path).tensors.max { $0.offset < $1.offset })
        XCTAssertEqual(last.type, .tq1_0)
        bytes.removeLast(1000)
        let cut = dir + "/cut.gguf"
        try bytes.write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try GGUFFile(path: cut)) { error in
            XCTAssertTrue(String(describing: error).contains(last.name), String(describing: error))
        }
    }

    /// SmolLM2 (not a ternary model: quality is poor, that is expected) quantised to TQ2_0
    /// loads and runs on every path, and its TQ2_0 tensors requantise to the same bytes.
    func testSmolLM2AsTQ2_0RunsAndRoundTrips() throws {
        let source = try TestModels.path("smollm2")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var quantizer = GGUFQuantizer(fileType: .mostlyTQ2_0, threads: 2)
        quantizer.allowRequantize = true
        let first = dir + "/tq2.gguf"
        try quantizer.quantize(input: source, output: first)
        let file = try GGUFFile(path: first)
        let ternary = file.tensors.filter { $0.type == .tq2_0 }
        XCTAssertEqual(ternary.count, 30)  // ffn_down: 1536-wide rows; the 576-wide ones fall back to Q4_0
        let model = try LanguageModel(path: first)
        let session = try model.makeSession(contextLength: 128, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        let ids = Array(1..<40)  // a prompt (integer prompt kernels), then decode steps
        var logits = Array(try session.evaluate(ids))
        for _ in 0..<4 {
            XCTAssertTrue(logits.allSatisfy(\.isFinite))
            logits = Array(try session.evaluate([VectorOps.argmax(logits, count: logits.count)]))
        }
        // Dequantised and quantised again, every TQ2_0 row gives back its bytes.
        var row = [Float](repeating: 0, count: 1536)
        var bytes = [UInt8](repeating: 0, count: GGMLType.tq2_0.byteCount(elements: 1536))
        for t in ternary {
            XCTAssertEqual(t.rowLength, 1536)
            let data = file.bytes(for: t)
            var changed = 0
            for r in 0..<t.rowCount {
                let src = data.baseAddress! + r * bytes.count
                RowKernels.dequantize(.tq2_0, src, into: &row, count: 1536)
                bytes.withUnsafeMutableBytes { RowQuantizer.quantize(.tq2_0, row, into: $0.baseAddress!, count: 1536) }
                if !bytes.elementsEqual(UnsafeRawBufferPointer(start: src, count: bytes.count)) { changed += 1 }
            }
            XCTAssertEqual(changed, 0, "\(t.name): rows changed on requantising")
        }
    }
}
