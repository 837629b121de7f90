import XCTest
import LoomKernels
@testable import LoomModels

/// RoPE θ / linear-scale overrides reach the config and the rotary embedding, and bad values
/// are refused with the flag's name.
final class RopeOverridesTests: XCTestCase {
    func testOverridesReachConfigAndChangeLogits() throws {
        let path = try TestModels.path("smollm2")
        let plain = try LanguageModel(path: path)
        let stretched = try LanguageModel(path: path, rope: RopeOverrides(base: 1e6, linearFactor: 4))
        XCTAssertEqual(plain.config.ropeBase, 100_000)
        XCTAssertEqual(stretched.config.ropeBase, 1e6)
        XCTAssertEqual(stretched.config.ropePositionScale, 0.25)

        let ids = plain.tokenizer.encode("The capital of France is Paris, and the capital of Italy is")
        // The logits live in the session's buffers: keep each session alive while copying them
        // (a temporary session is freed right after `evaluate` returns; AddressSanitizer).
        let plainSession = try plain.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 1))
        let stretchedSession = try stretched.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 1))
        let a = try withExtendedLifetime(plainSession) { Array(try plainSession.evaluate(ids)) }
        let b = try withExtendedLifetime(stretchedSession) { Array(try stretchedSession.evaluate(ids)) }
        XCTAssertGreaterThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-3, "θ and scale must change the logits")
    }

    func testInvalidOverridesAreRefused() throws {
        let path = try TestModels.path("smollm2")
        XCTAssertThrowsError(try LanguageModel(path: path, rope: RopeOverrides(base: -5))) {
            XCTAssertTrue("\($0)".contains("--rope-theta"), "\($0)")
        }
        XCTAssertThrowsError(try LanguageModel(path: path, rope: RopeOverrides(linearFactor: .nan))) {
            XCTAssertTrue("\($0)".contains("--rope-scale"), "\($0)")
        }
    }
}

/// The llama.cpp-style scaling flags (`--rope-scaling`, `--yarn-*`) turned into a config, and
/// their conflicts named.
final class RopeScalingOverridesTests: XCTestCase {
    static let base = Result { try LanguageModel(path: try TestModels.path("smollm2")).config }

    func applied(_ overrides: RopeOverrides) throws -> ModelConfig {
        var config = try Self.base.get()
        try overrides.validate(path: "m.gguf")
        try overrides.apply(to: &config, path: "m.gguf")
        return config
    }

    func assertRefused(_ overrides: RopeOverrides, mentioning text: String, line: UInt = #line) {
        XCTAssertThrowsError(try applied(overrides), line: line) {
            XCTAssertTrue("\($0)".contains(text), "\($0)", line: line)
        }
    }

    func testEachScalingKindReachesTheConfig() throws {
        XCTAssertEqual(try Self.base.get().contextLength, 8192)
        let yarn = try applied(RopeOverrides(linearFactor: 4, scaling: .yarn))
        XCTAssertEqual(yarn.ropeYarn, YarnScaling(factor: 4, originalContext: 8192))
        XCTAssertEqual(yarn.ropePositionScale, 1)
        let tuned = try applied(RopeOverrides(linearFactor: 4, scaling: .yarn, originalContext: 4096, yarnAttentionFactor: 2,
                                              yarnBetaFast: 16, yarnBetaSlow: 2))
        XCTAssertEqual(tuned.ropeYarn?.originalContext, 4096)
        XCTAssertEqual(try XCTUnwrap(tuned.ropeYarn?.magnitude), 2 * (1 + 0.1 * log(4)), accuracy: 1e-12,
                       "llama.cpp: cos/sin × attn_factor × (1 + 0.1·ln F)")
        XCTAssertEqual(tuned.ropeYarn?.betaFast, 16)
        XCTAssertEqual(tuned.ropeYarn?.betaSlow, 2)

        XCTAssertEqual(try applied(RopeOverrides(linearFactor: 2, scaling: .dynamic)).ropeDynamic, .ntk(factor: 2, trainedContext: 8192))
        XCTAssertEqual(try applied(RopeOverrides(linearFactor: 2, scaling: .dynamic, originalContext: 2048)).ropeDynamic,
                       .ntk(factor: 2, trainedContext: 2048))
        let llama3 = try applied(RopeOverrides(linearFactor: 8, scaling: .llama3, originalContext: 2048))
        guard case .custom(let factors) = llama3.ropePairFactors else { return XCTFail("\(llama3.ropePairFactors)") }
        XCTAssertEqual(factors.count, llama3.ropeDimensions / 2)
        XCTAssertEqual(factors.first, 1, "the highest frequencies are kept")
        XCTAssertEqual(factors.last, 8, "the lowest are divided by the factor")

        let none = try applied(RopeOverrides(scaling: .plain))
        XCTAssertEqual(none.ropePairFactors, RopePairFactors.dropped)
        XCTAssertNil(none.ropeYarn)
        // A bare factor on a plain model: positions divided by it (the pre-existing --rope-scale).
        XCTAssertEqual(try applied(RopeOverrides(linearFactor: 4)).ropePositionScale, 0.25)
        // ... and on a YaRN model it keeps YaRN with the new factor, as llama.cpp's --rope-scale.
        var yarnModel = try Self.base.get()
        try RopeOverrides(linearFactor: 2, scaling: .yarn).apply(to: &yarnModel, path: "m")
        try RopeOverrides(linearFactor: 8).apply(to: &yarnModel, path: "m")
        XCTAssertEqual(yarnModel.ropeYarn?.factor, 8)
        XCTAssertEqual(yarnModel.ropePositionScale, 1)
    }

    /// `--yarn-ext-factor 0` is pure interpolation: every frequency divided by the factor,
    /// with no magnitude change (llama.cpp rope_yarn with ext_factor 0).
    func testYarnWithoutExtrapolationIsLinearInterpolation() throws {
        let yarn = try XCTUnwrap(try applied(RopeOverrides(linearFactor: 4, scaling: .yarn, yarnExtrapolationFactor: 0)).ropeYarn)
        XCTAssertEqual(yarn.magnitude, 1)
        for divisor in yarn.frequencyDivisors(base: 100_000, dimensions: 64) { XCTAssertEqual(divisor, 4, accuracy: 1e-5) }
    }

    func testConflictsAreNamed() {
        assertRefused(RopeOverrides(linearFactor: 4, scaling: .plain), mentioning: "none conflicts with --rope-scale")
        assertRefused(RopeOverrides(yarnBetaFast: 16), mentioning: "apply to YaRN only")
        assertRefused(RopeOverrides(linearFactor: 2, scaling: .linear, yarnAttentionFactor: 2), mentioning: "apply to YaRN only")
        assertRefused(RopeOverrides(linearFactor: 2, scaling: .linear, originalContext: 4096), mentioning: "--yarn-orig-ctx")
        assertRefused(RopeOverrides(scaling: .yarn), mentioning: "needs a factor")
        assertRefused(RopeOverrides(scaling: .dynamic), mentioning: "needs a factor")
        assertRefused(RopeOverrides(scaling: .longrope), mentioning: "longrope needs the model's own per-pair factors")
        assertRefused(RopeOverrides(linearFactor: 2, scaling: .yarn, yarnBetaFast: 1, yarnBetaSlow: 2), mentioning: "must exceed --yarn-beta-slow")
        assertRefused(RopeOverrides(linearFactor: 2, scaling: .yarn, yarnExtrapolationFactor: 1.5), mentioning: "--yarn-ext-factor")
    }

    func testContextPastTrainingWithoutScalingIsWarnedAbout() throws {
        let path = try TestModels.path("smollm2")
        let plain = try LanguageModel(path: path)
        XCTAssertNil(plain.contextWarning(context: 8192, ropeOverridden: false))
        let warning = try XCTUnwrap(plain.contextWarning(context: 32_768, ropeOverridden: false))
        XCTAssertTrue(warning.contains("32768") && warning.contains("trained context of 8192") && warning.contains("--rope-scaling"), warning)
        XCTAssertNil(plain.contextWarning(context: 32_768, ropeOverridden: true))
        let yarn = try LanguageModel(path: path, rope: RopeOverrides(linearFactor: 4, scaling: .yarn))
        XCTAssertNil(yarn.contextWarning(context: 32_768, ropeOverridden: false), "the scaling is in the config")
    }
}
