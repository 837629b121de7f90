import Foundation
import XCTest
import LoomFormats
import LoomHub
import LoomKernels
@testable import LoomModels

/// The real test model with a real-size adapter: SmolLM2-135M (Q4_1 GGUF) plus the
/// deterministic r=16 LoRA on all seven projections of all 30 layers that
/// scripts/gen_peft_fixtures.py gave to PEFT on the HF-space weights of the same file
/// (transformers dequantises the GGUF and un-permutes Q/K). Loom runs the GGUF base with the
/// PEFT adapter (Q/K B rows permuted, factors kept as halves on the quantised base): its
/// log-probs must be within 0.05 of PEFT's, and its greedy continuation identical — which is
/// also what llama.cpp generates with the GGUF LoRA Loom converts the adapter to.
final class SmolLM2LoRAParityTests: XCTestCase {
    static let adapterDirectory = Result<URL, Error> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-smollm2-lora-\(UUID().uuidString)")
        try PEFTFixture.writeSmolLM2Adapter(to: dir)
        return dir
    }

    func logprobs(_ model: LanguageModel, _ ids: [Int]) throws -> [[Double]] {
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        var rows: [[Double]] = []
        try session.evaluate(ids) { _, logits in
            let peak = Double(logits.max()!)
            let total = logits.reduce(0.0) { $0 + exp(Double($1) - peak) }
            rows.append(logits.map { Double($0) - peak - log(total) })
        }
        return rows
    }

    func check(_ model: LanguageModel, _ expected: PEFTFixture.SmolLM2Outputs, ids: [Int], prompt: [Int], label: String) throws {
        let rows = try logprobs(model, ids)
        var worst = 0.0
        for p in 0..<ids.count - 1 {
            worst = max(worst, abs(rows[p][ids[p + 1]] - expected.logprobs_of_ids[p]))
            for pair in expected.top_logprobs[p] {
                worst = max(worst, abs(rows[p][Int(pair[0])] - pair[1]))
            }
        }
        XCTAssertLessThan(worst, 0.05, "\(label): largest log-prob difference from PEFT")
        // Greedy as the script computes it: argmax of the last row, `greedy.count` steps, no stop tokens.
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2), cacheTypes: .f32)
        func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int { VectorOps.argmax(logits.baseAddress!, count: logits.count) }
        var next = argmax(try session.evaluate(prompt))
        var greedy: [Int] = []
        while greedy.count < expected.greedy.count {
            greedy.append(next)
            next = argmax(try session.evaluate([next]))
        }
        XCTAssertEqual(greedy, expected.greedy, "\(label): greedy continuation")
    }

    func testGGUFBaseWithPEFTAdapterMatchesPEFT() throws {
        let reference = try PEFTFixture.load().fixture.smollm2
        let model = try LanguageModel(path: try ModelStore().resolve("smollm2", progress: .silent))
        XCTAssertEqual(model.tokenizer.encode(reference.text, addSpecial: false), reference.ids)
        try check(model, reference.base, ids: reference.ids, prompt: reference.prompt_ids, label: "base")
        let id = try model.loadLoRA(path: try Self.adapterDirectory.get().path)
        XCTAssertEqual(model.loraAdapters.first?.tensorNames.count, 210)
        try check(model, reference.adapter, ids: reference.ids, prompt: reference.prompt_ids, label: "with the adapter")

        // The same adapter converted to a llama.cpp GGUF LoRA (F16, GGUF row order) gives the
        // same answers.
        try model.detachLoRA(id: id)
        let gguf = FileManager.default.temporaryDirectory.appendingPathComponent("loom-smollm2-lora-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: gguf) }
        let c = model.config
        try LoRAAdapter.load(path: try Self.adapterDirectory.get().path, naming: c.architecture.tensorNames)
            .reordered(to: .gguf, headCount: c.headCount, kvHeadCount: c.kvHeadCount, permutesQK: true)
            .writeGGUF(to: gguf, architecture: "llama", type: .f16)
        try model.loadLoRA(path: gguf)
        try check(model, reference.adapter, ids: reference.ids, prompt: reference.prompt_ids, label: "converted GGUF LoRA")

        // llama.cpp loading the GGUF LoRA `loom convert-lora` writes (scripts/gen_peft_fixtures.py
        // llamacpp) generates what Loom generates; so does llama.cpp with its own converter's file.
        XCTAssertEqual(reference.llamacpp.loom_lora_greedy, reference.adapter.greedy)
        XCTAssertEqual(reference.llamacpp.greedy, reference.adapter.greedy)
        XCTAssertEqual(reference.llamacpp.base_greedy, reference.base.greedy)
    }
}
