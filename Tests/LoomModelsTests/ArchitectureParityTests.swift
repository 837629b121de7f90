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
    static let tolerance = 1e-4
    static let loaded = Result { try TransformersLogitsFixture.load("hf_arch") }

    /// The HF directory, and its `loom convert` GGUF (F32), both against transformers.
    func check(_ name: String) throws -> (hf: LanguageModel, gguf: LanguageModel) {
        let (root, fixture) = try Self.loaded.get()
        let directory = root.appendingPathComponent(name).path
        let hf = try LanguageModel(path: directory)
        let hfWorst = try fixture.worstDifference(hf, name, decodeToo: true)
        XCTAssertLessThanOrEqual(hfWorst, Self.tolerance, "\(name) (HF directory): max |Δ logit| vs transformers")
        let gguf = FileManager.default.temporaryDirectory.appendingPathComponent("loom-\(name)-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: gguf) }
        try HFToGGUFConverter(outputType: .f32).convert(directory: directory, output: gguf)
        let converted = try LanguageModel(path: gguf)
        let ggufWorst = try fixture.worstDifference(converted, name, decodeToo: true)
        XCTAssertLessThanOrEqual(ggufWorst, Self.tolerance, "\(name) (converted GGUF): max |Δ logit| vs transformers")
        print("\(name): max |Δ logit| vs transformers \(fixture.transformers): HF \(hfWorst), GGUF \(ggufWorst)")
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
        let reference = try XCTUnwrap(try Self.loaded.get().fixture.models["mistral"])
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
            XCTAssertEqual("\($0)", "x.gguf: general.architecture: architecture 'gpt2' is not supported (supported: llama, qwen2, phi3, mistral, bitnet)")
        }
        XCTAssertThrowsError(try ArchitectureRegistry.huggingFace(className: "GPT2LMHeadModel", path: "config.json")) {
            XCTAssertTrue("\($0)".contains("LlamaForCausalLM, Qwen2ForCausalLM, Phi3ForCausalLM, MistralForCausalLM"), "\($0)")
        }
    }
}
