import Foundation
import XCTest
import LoomFormats
import LoomKernels
@testable import LoomModels

/// The architectures added through the ``Architecture`` seam, each checked against
/// transformers on a tiny random checkpoint it saved itself (scripts/gen_hf_arch_fixtures.py):
/// Phi-3 (fused `qkv_proj` and `gate_up_proj`) and Mistral (sliding-window attention, with
/// prompts longer than the window). Each is checked as the HF directory and again after
/// `loom convert` to GGUF, so the converter's names, Q/K permutation and window metadata are
/// covered too.
final class ArchitectureParityTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let text: String
            let ids: [Int]
            let logits: [[Double]]
        }
        struct Model: Decodable {
            let cases: [Case]
            let without_sliding_window_max_diff: Double?
        }
        let transformers: String
        let models: [String: Model]
    }

    static let tolerance = 1e-4

    static func root() throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "hf_arch", withExtension: nil, subdirectory: "Fixtures"))
    }

    static let fixture: Result<Fixture, Error> = Result {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: root().appendingPathComponent("reference_logits.json")))
    }

    /// Largest |Δ logit| of `model` against the fixture's cases for `name`.
    func worstDifference(_ model: LanguageModel, _ name: String) throws -> Double {
        let reference = try XCTUnwrap(try Self.fixture.get().models[name], name)
        let session = try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 2))
        var worst = 0.0
        XCTAssertGreaterThanOrEqual(reference.cases.count, 1)
        for c in reference.cases {
            XCTAssertEqual(model.tokenizer.encode(c.text), c.ids, "\(name): tokenizer ids for '\(c.text)'")
            session.reset()
            var seen = 0
            try session.evaluate(c.ids) { index, logits in
                seen += 1
                for (a, b) in zip(logits, c.logits[index]) { worst = max(worst, abs(Double(a) - b)) }
            }
            XCTAssertEqual(seen, c.ids.count)
            // The decode path too: the last token again, one at a time, after the others.
            session.reset()
            if c.ids.count > 1 {
                try session.evaluate(Array(c.ids.dropLast()))
                let last = try session.evaluate([c.ids.last!])
                for (a, b) in zip(last, c.logits[c.ids.count - 1]) { worst = max(worst, abs(Double(a) - b)) }
            }
        }
        return worst
    }

    /// The HF directory, and its `loom convert` GGUF (F32), both against transformers.
    func check(_ name: String) throws -> (hf: LanguageModel, gguf: LanguageModel) {
        let directory = try Self.root().appendingPathComponent(name).path
        let hf = try LanguageModel(path: directory)
        let hfWorst = try worstDifference(hf, name)
        XCTAssertLessThanOrEqual(hfWorst, Self.tolerance, "\(name) (HF directory): max |Δ logit| vs transformers")
        let gguf = FileManager.default.temporaryDirectory.appendingPathComponent("loom-\(name)-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: gguf) }
        try HFToGGUFConverter(outputType: .f32).convert(directory: directory, output: gguf)
        let converted = try LanguageModel(path: gguf)
        let ggufWorst = try worstDifference(converted, name)
        XCTAssertLessThanOrEqual(ggufWorst, Self.tolerance, "\(name) (converted GGUF): max |Δ logit| vs transformers")
        print("\(name): max |Δ logit| vs transformers \(try Self.fixture.get().transformers): HF \(hfWorst), GGUF \(ggufWorst)")
        return (hf, converted)
    }

    func testPhi3FusedProjections() throws {
        let (hf, gguf) = try check("phi3")
        XCTAssertEqual(hf.config.architecture, .phi3)
        XCTAssertEqual(gguf.config.architecture, .phi3)
        XCTAssertEqual(gguf.config.ropeLayout, .halfSplit, "phi3 GGUF keeps HF's Q/K rows")
        let file = try XCTUnwrap(gguf.file)
        XCTAssertNotNil(file.tensor(named: "blk.0.attn_qkv.weight"))
        XCTAssertNil(file.tensor(named: "blk.0.attn_q.weight"))
        XCTAssertEqual(file.tensor(named: "blk.0.ffn_up.weight")?.dimensions, [hf.config.embeddingSize, 2 * hf.config.feedForwardSize])
    }

    func testMistralSlidingWindow() throws {
        let reference = try XCTUnwrap(try Self.fixture.get().models["mistral"])
        let window = try XCTUnwrap(reference.without_sliding_window_max_diff)
        XCTAssertGreaterThan(window, 1e-2, "the fixture's prompts must be longer than the window for the test to mean anything")
        let (hf, gguf) = try check("mistral")
        XCTAssertEqual(hf.config.architecture, .mistral)
        XCTAssertNotNil(hf.config.slidingWindow)
        // llama.cpp writes Mistral as a llama GGUF (permuted Q/K); Loom keeps the window in it.
        XCTAssertEqual(gguf.config.architecture, .llama)
        XCTAssertEqual(gguf.config.ropeLayout, .adjacent)
        XCTAssertEqual(gguf.config.slidingWindow, hf.config.slidingWindow)
    }

    func testUnknownArchitectureNamesTheKnownOnes() throws {
        XCTAssertThrowsError(try ArchitectureRegistry.gguf("gpt2", path: "x.gguf")) {
            XCTAssertEqual("\($0)", "x.gguf: general.architecture: architecture 'gpt2' is not supported (supported: llama, qwen2, phi3, mistral)")
        }
        XCTAssertThrowsError(try ArchitectureRegistry.huggingFace(className: "GPT2LMHeadModel", path: "config.json")) {
            XCTAssertTrue("\($0)".contains("LlamaForCausalLM, Qwen2ForCausalLM, Phi3ForCausalLM, MistralForCausalLM"), "\($0)")
        }
    }
}
