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
