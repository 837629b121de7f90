import Foundation
import XCTest
import LoomKernels
import LoomModels
@testable import LoomGeneration

/// llama.cpp's context shift in the generation loop on the real default model: generation
/// runs past the context (the cache-level checks are `ContextShiftParityTests`).
final class ContextShiftTests: XCTestCase {
    var model: LanguageModel { get throws { try XCTUnwrap(GeneratorTests.model, "the default model could not be loaded") } }

    static let text = """
        The river rose slowly through the night, and by morning the low fields along the valley were under water. \
        Farmers moved their animals to the hills, while the village council met in the old school to decide whether \
        the bridge could still be crossed safely.
        """

    /// With `contextShift`, generation continues past a 40-token context (shifting as often
    /// as it fills); without it, it stops there with `length`. Bad shifts are named errors.
    func testGenerationRunsPastTheContextWithShifts() throws {
        let model = try self.model
        let generator = Generator(session: try model.makeSession(contextLength: 40, pool: ThreadPool(threadCount: 2)))
        let prompt = model.tokenizer.encode("Once upon a time, in a small town by the sea,")
        var options = GenerationOptions(maxTokens: 80, stopAtEndOfGeneration: false)
        options.sampling = .greedy
        let plain = try generator.generate(prompt: prompt, options: options)
        XCTAssertEqual(plain.finishReason, .length)
        XCTAssertEqual(prompt.count + plain.tokens.count, 40)
        XCTAssertEqual(plain.contextShifts, 0)
        options.contextShift = ContextShift(keep: -1)
        generator.resetCache()
        let shifted = try generator.generate(prompt: prompt, options: options)
        XCTAssertEqual(shifted.tokens.count, 80)
        XCTAssertGreaterThanOrEqual(shifted.contextShifts, 2)
        // Until the first shift both runs see the same context, so they agree token for token.
        XCTAssertEqual(Array(shifted.tokens.prefix(plain.tokens.count)), plain.tokens)
        XCTAssertEqual(Array(generator.cachedTokens.prefix(prompt.count)), prompt, "--keep -1 keeps the prompt")
        XCTAssertLessThanOrEqual(generator.session.position, 40)

        options.contextShift = ContextShift(keep: 39)
        XCTAssertThrowsError(try generator.generate(prompt: prompt, options: options)) {
            XCTAssertTrue("\($0)".contains("--keep 39"), "\($0)")
        }
        XCTAssertThrowsError(try generator.session.shiftContext(keep: 0, discard: 1000))
    }

    /// Models whose RoPE frequencies follow the sequence length cannot shift.
    func testDynamicRopeRefusesToShift() throws {
        let path = try XCTUnwrap(GeneratorTests.model?.path)
        let model = try LanguageModel(path: path, rope: RopeOverrides(linearFactor: 2, scaling: .dynamic, originalContext: 16))
        let session = try model.makeSession(contextLength: 32, pool: ThreadPool(threadCount: 1))
        try session.evaluate(Array(model.tokenizer.encode(Self.text).prefix(32)))
        XCTAssertThrowsError(try session.shiftContext(keep: 0, discard: 16)) {
            XCTAssertTrue("\($0)".contains("depends on the sequence length"), "\($0)")
        }
    }
}
