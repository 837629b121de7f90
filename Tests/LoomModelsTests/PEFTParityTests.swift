import Foundation
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// LoRA against PEFT itself (scripts/gen_peft_fixtures.py): adapters that PEFT 0.21 saved on the
/// tiny random llama/qwen2 bases of hf_independent/, and the float32 logits PEFT computed with
/// them unmerged and after `merge_and_unload()`. Loom must match within 1e-4:
/// - unmerged, on the Hugging Face base directory (the adapters' own row order);
/// - unmerged, on the same base converted to GGUF (llama Q/K rows permuted: the adapter's B
///   rows must follow);
/// - merged by `LoRAMerger` (export-lora) into that GGUF, against PEFT's merged logits;
/// - after conversion to a llama.cpp GGUF LoRA and back onto the GGUF base (non-DoRA).
final class PEFTParityTests: XCTestCase {
    func reference() throws -> PEFTFixture { try PEFTFixture.load().fixture }

    func adapters(of c: PEFTFixture.Case) throws -> [(URL, Float)] {
        let root = try PEFTFixture.load().root
        return c.adapters.map { (PEFTFixture.adapterDirectory(root, $0.directory), Float($0.scale)) }
    }

    /// Logits at every position (one prompt batch), and the last one again by a decode step.
    func worst(_ model: LanguageModel, _ ids: [Int], _ expected: [[Double]]) throws -> Double {
        XCTAssertFalse(ids.isEmpty)
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        var rows: [[Float]] = []
        try session.evaluate(ids) { _, l in rows.append(Array(l)) }
        XCTAssertEqual(rows.count, expected.count)
        var worst = 0.0
        for (r, e) in zip(rows, expected) { for (a, b) in zip(r, e) { worst = max(worst, abs(Double(a) - b)) } }
        let decode = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        try decode.evaluate(Array(ids.dropLast()))
        let last = try decode.evaluate([ids.last!])
        for (a, b) in zip(last, expected.last!) { worst = max(worst, abs(Double(a) - b)) }
        return worst
    }

    func ggufBase(_ name: String) throws -> String {
        let dir = PEFTFixture.baseDirectory(try PEFTFixture.load().root, name)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("loom-peft-base-\(UUID().uuidString).gguf").path
        try HFToGGUFConverter(outputType: .f32).convert(directory: dir.path, output: out)
        return out
    }

    func testUnmergedAdaptersMatchPEFTOnHFAndGGUFBases() throws {
        for (name, c) in try reference().cases.sorted(by: { $0.key < $1.key }) {
            let hfBase = PEFTFixture.baseDirectory(try PEFTFixture.load().root, c.base).path
            let gguf = try ggufBase(c.base)
            defer { try? FileManager.default.removeItem(atPath: gguf) }
            for basePath in [hfBase, gguf] {
                let model = try LanguageModel(path: basePath)
                for (url, scale) in try adapters(of: c) { try model.loadLoRA(path: url.path, scale: scale) }
                XCTAssertLessThan(try worst(model, c.ids, c.logits), 1e-4, "\(name) on \(basePath)")
                model.detachAllLoRA()
                XCTAssertGreaterThan(try worst(model, c.ids, c.logits), 0.1 * c.max_vs_base, "\(name): the adapter must matter")
            }
        }
    }

    func testMergedGGUFMatchesPEFTMergeAndUnload() throws {
        for (name, c) in try reference().cases.sorted(by: { $0.key < $1.key }) {
            let gguf = try ggufBase(c.base)
            let merged = gguf + ".merged.gguf"
            defer { try? FileManager.default.removeItem(atPath: gguf); try? FileManager.default.removeItem(atPath: merged) }
            let base = try LanguageModel(path: gguf)
            let c2 = base.config
            let list = try adapters(of: c).map { url, scale in
                (try LoRAAdapter.load(path: url.path, naming: c2.architecture.tensorNames)
                    .reordered(to: .gguf, headCount: c2.headCount, kvHeadCount: c2.kvHeadCount, permutesQK: c2.architecture.permutesQK), scale)
            }
            _ = try LoRAMerger(mergedType: .f32).merge(base: try GGUFFile(path: gguf), adapters: list, output: merged)
            XCTAssertLessThan(try worst(try LanguageModel(path: merged), c.ids, c.merged_logits), 1e-4, name)
        }
    }

    func testConvertedGGUFLoRAMatchesPEFT() throws {
        for (name, c) in try reference().cases.sorted(by: { $0.key < $1.key }) where !name.contains("dora") {
            let gguf = try ggufBase(c.base)
            defer { try? FileManager.default.removeItem(atPath: gguf) }
            let model = try LanguageModel(path: gguf)
            let cfg = model.config
            for (i, (url, scale)) in try adapters(of: c).enumerated() {
                let out = gguf + ".lora\(i).gguf"
                defer { try? FileManager.default.removeItem(atPath: out) }
                try LoRAAdapter.load(path: url.path, naming: cfg.architecture.tensorNames)
                    .reordered(to: .gguf, headCount: cfg.headCount, kvHeadCount: cfg.kvHeadCount, permutesQK: cfg.architecture.permutesQK)
                    .writeGGUF(to: out, architecture: cfg.architecture.ggufWriteName)
                try model.loadLoRA(path: out, scale: scale)
            }
            XCTAssertLessThan(try worst(model, c.ids, c.logits), 1e-4, name)
        }
    }

    /// PEFT's own bad-input adapters: `bias="all"` and a pickle-only (`adapter_model.bin`) save.
    func testPEFTSavedAdaptersLoomRefusesAreNamed() throws {
        let root = try PEFTFixture.load().root
        let model = try LanguageModel(path: PEFTFixture.baseDirectory(root, "qwen2_tied_bias").path)
        XCTAssertThrowsError(try model.loadLoRA(path: PEFTFixture.adapterDirectory(root, "qwen2_bias_all").path)) {
            XCTAssertTrue("\($0)".contains("bias: 'all' trains bias vectors"), "\($0)")
        }
        XCTAssertThrowsError(try model.loadLoRA(path: PEFTFixture.adapterDirectory(root, "llama_bin").path)) {
            XCTAssertTrue("\($0)".contains("adapter_model.bin") && "\($0)".contains("safetensors"), "\($0)")
        }
        XCTAssertTrue(model.loraAdapters.isEmpty)
    }
}
