import Foundation
import XCTest
import LoomKernels
@testable import LoomModels

final class KVCacheTests: XCTestCase {
    /// Every layer's keys and values are their own `capacity × rowSize` floats of the one
    /// block: writing each with its own pattern and reading all back finds every pattern
    /// intact (no region overlaps another).
    func testLayersKeysAndValuesDoNotOverlap() {
        let cache = KVCache(layers: 3, capacity: 5, rowSize: 7)
        let n = 5 * 7
        for layer in 0..<3 {
            for i in 0..<n {
                cache.keys(layer: layer)[i] = Float(1000 * layer + i)
                cache.values(layer: layer)[i] = -Float(1000 * layer + i)
            }
        }
        for layer in 0..<3 {
            for i in 0..<n {
                XCTAssertEqual(cache.keys(layer: layer)[i], Float(1000 * layer + i))
                XCTAssertEqual(cache.values(layer: layer)[i], -Float(1000 * layer + i))
            }
        }
        XCTAssertEqual(cache.byteCount, 2 * 3 * n * 4)
    }

    /// Huge pages are asked for only once each layer holds 2 MB of rows, or half the
    /// capacity of a smaller cache: a short exchange in a long context stays in 4 KB pages.
    func testHugePagesOnlyOnceTheCacheIsFullEnough() {
        // SmolLM2's rows: 3 KV heads × 64 = 192 floats = 768 bytes; 2 MB is 2731 rows.
        let long = KVCache(layers: 2, capacity: 8192, rowSize: 192)
        long.reserve(positions: 300)
        XCTAssertFalse(long.usesHugePages)
        long.reserve(positions: 2730)
        XCTAssertFalse(long.usesHugePages)
        long.reserve(positions: 2731)
        XCTAssertTrue(long.usesHugePages)
        let short = KVCache(layers: 2, capacity: 1057, rowSize: 192)
        short.reserve(positions: 528)
        XCTAssertFalse(short.usesHugePages)
        short.reserve(positions: 529)
        XCTAssertTrue(short.usesHugePages)
        // The block stays usable after the advice.
        short.keys(layer: 1)[1056 * 192 + 191] = 3
        XCTAssertEqual(short.keys(layer: 1)[1056 * 192 + 191], 3)
    }
}

/// The KV memory plan: byte counts that overflow or exceed the machine are named errors
/// before anything is allocated (release builds run without overflow traps).
final class MemoryPlanTests: XCTestCase {
    func testOverflowingAndOversizedPlansAreRefused() throws {
        XCTAssertEqual(MemoryPlan.kvCacheBytes(layers: 30, positions: 2048, rowSize: 192), 2 * 30 * 2048 * 192 * 4)
        XCTAssertNil(MemoryPlan.kvCacheBytes(layers: 30, positions: 1 << 58, rowSize: 192))
        XCTAssertNil(MemoryPlan.kvCacheBytes(layers: 30, positions: Int.max, rowSize: 192))
        XCTAssertNil(MemoryPlan.kvCacheBytes(layers: 2, positions: 1 << 40, rowSize: 1 << 20, slots: 4))
        var spec = SyntheticModel()
        let path = try spec.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LanguageModel(path: path)
        for positions in [1 << 58, (1 << 57) + 1, Int.max, 1 << 40] {
            XCTAssertThrowsError(try model.makeSession(contextLength: positions, pool: ThreadPool(threadCount: 1))) {
                guard case ModelError.insufficientMemory(_, _, let available)? = $0 as? ModelError else {
                    return XCTFail("\(positions): \($0)")
                }
                XCTAssertEqual(available, MemoryPlan.physicalMemory)
            }
            XCTAssertThrowsError(try MultiSequenceBatch(model: model, slots: 4, capacity: positions, pool: ThreadPool(threadCount: 1)))
        }
        // A plan that fits still works.
        XCTAssertNoThrow(try model.makeSession(contextLength: 64, pool: ThreadPool(threadCount: 1)))
    }
}

/// `loom info --ctx N --parallel P`'s memory plan: the KV bytes are what the caches reserve,
/// the scratch what the decoder allocates, and an overflowing context is a named error.
final class MemoryEstimateTests: XCTestCase {
    func testPlanMatchesWhatSessionsAllocate() throws {
        let model = try LanguageModel(path: try TestModels.path("smollm2"))
        let c = model.config
        let plan = try model.memoryEstimate(contextLength: 8192, slots: 4, weightBytes: 1000)
        // SmolLM2: 30 layers × 3 KV heads × 64 × 2 (K and V) × 4 bytes = 46 080 bytes per position.
        XCTAssertEqual(plan.kvCacheBytes, 4 * 8192 * 46_080)
        let session = try model.makeSession(contextLength: 8192, pool: ThreadPool(threadCount: 1))
        XCTAssertEqual(plan.kvCacheBytes, 4 * session.cache.byteCount)
        let rows = 512, qDim = c.headCount * c.headDim, kvDim = c.kvHeadCount * c.headDim
        let expectedScratch = (rows * (3 * c.embeddingSize + 2 * qDim + 2 * kvDim + 2 * c.feedForwardSize + c.ropeDimensions)
                               + 16 * (c.vocabularySize + c.embeddingSize)) * 4
        XCTAssertEqual(plan.scratchBytes, expectedScratch)
        XCTAssertEqual(plan.totalBytes, 1000 + plan.kvCacheBytes + plan.scratchBytes)
        XCTAssertTrue(plan.fits)
        XCTAssertFalse(try model.memoryEstimate(contextLength: 1 << 27, slots: 64, weightBytes: 0).fits)
        XCTAssertThrowsError(try model.memoryEstimate(contextLength: Int.max / 2, weightBytes: 0)) {
            XCTAssertTrue("\($0)".contains("KV caches"), "\($0)")
        }
    }
}
