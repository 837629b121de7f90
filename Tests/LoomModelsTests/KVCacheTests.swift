import Foundation
import XCTest
import LoomKernels
@testable import LoomModels

final class KVCacheTests: XCTestCase {
    /// Every layer's keys and values are their own `capacity` rows of the one block, for
    /// every cache type: storing each with its own pattern and reading all back finds every
    /// pattern intact (no region overlaps another), exactly for floats, within the type's
    /// rounding otherwise; the reserved bytes are the type's row bytes.
    func testLayersKeysAndValuesDoNotOverlap() {
        for (keyType, valueType) in [(KVCacheType.f32, KVCacheType.f32), (.f16, .f16), (.q8_0, .q4_0), (.bf16, .q5_1)] {
            let types = KVCacheTypes(keys: keyType, values: valueType)
            let rowSize = 64, capacity = 5, layers = 3
            let cache = KVCache(layers: layers, capacity: capacity, rowSize: rowSize, types: types)
            func pattern(_ layer: Int, _ sign: Float) -> [Float] {
                (0..<capacity * rowSize).map { sign * (Float(100 * layer) + Float($0 % 97) / 8) }
            }
            for layer in 0..<layers {
                // Two stores (positions 0–1, then 2–4), as a prompt and its continuation.
                let k = pattern(layer, 1), v = pattern(layer, -1)
                cache.store(layer: layer, position: 0, keys: k, values: v, count: 2)
                cache.store(layer: layer, position: 2, keys: Array(k[(2 * rowSize)...]), values: Array(v[(2 * rowSize)...]), count: 3)
            }
            for layer in 0..<layers {
                var k = [Float](repeating: .nan, count: capacity * rowSize), v = k
                cache.load(layer: layer, position: 0, count: capacity, keys: &k, values: &v)
                for (got, want, type) in [(k, pattern(layer, 1), keyType), (v, pattern(layer, -1), valueType)] {
                    // Block types round to their scale's steps: within 1/7 (q4_0, q4_1…) of a block's max.
                    let tolerance: Float = type == .f32 ? 0 : type.ggmlType.blockSize == 1 ? 0.5 : (Float(100 * layer) + 13) / 7
                    for i in 0..<got.count { XCTAssertEqual(got[i], want[i], accuracy: tolerance, "\(types) layer \(layer) \(i)") }
                }
            }
            XCTAssertEqual(cache.byteCount, layers * capacity * (keyType.rowBytes(elements: rowSize) + valueType.rowBytes(elements: rowSize)))
        }
    }

    /// Huge pages are asked for only once each layer holds 2 MB of rows, or half the
    /// capacity of a smaller cache: a short exchange in a long context stays in 4 KB pages.
    func testHugePagesOnlyOnceTheCacheIsFullEnough() {
        // SmolLM2's rows: 3 KV heads × 64 = 192 floats = 768 bytes (f32); 2 MB is 2731 rows.
        let long = KVCache(layers: 2, capacity: 8192, rowSize: 192, types: .f32)
        long.reserve(positions: 300)
        XCTAssertFalse(long.usesHugePages)
        long.reserve(positions: 2730)
        XCTAssertFalse(long.usesHugePages)
        long.reserve(positions: 2731)
        XCTAssertTrue(long.usesHugePages)
        let short = KVCache(layers: 2, capacity: 1057, rowSize: 192, types: .f32)
        short.reserve(positions: 528)
        XCTAssertFalse(short.usesHugePages)
        short.reserve(positions: 529)
        XCTAssertTrue(short.usesHugePages)
        // The block stays usable after the advice.
        let row = [Float](repeating: 3, count: 192)
        short.store(layer: 1, position: 1056, keys: row, values: row, count: 1)
        var k = [Float](repeating: 0, count: 192), v = k
        short.load(layer: 1, position: 1056, count: 1, keys: &k, values: &v)
        XCTAssertEqual(k, row)
    }
}

/// The KV memory plan: byte counts that overflow or exceed the machine are named errors
/// before anything is allocated (release builds run without overflow traps).
final class MemoryPlanTests: XCTestCase {
    func testOverflowingAndOversizedPlansAreRefused() throws {
        XCTAssertEqual(MemoryPlan.kvCacheBytes(layers: 30, positions: 2048, rowSize: 192, types: .f32), 2 * 30 * 2048 * 192 * 4)
        XCTAssertEqual(MemoryPlan.kvCacheBytes(layers: 30, positions: 2048, rowSize: 192, types: .default), 2 * 30 * 2048 * 192 * 2)
        // q8_0: 34 bytes per 32 elements, as llama.cpp's cache of that type.
        XCTAssertEqual(MemoryPlan.kvCacheBytes(layers: 30, positions: 2048, rowSize: 192, types: KVCacheTypes(.q8_0)),
                       2 * 30 * 2048 * 6 * 34)
        XCTAssertNil(MemoryPlan.kvCacheBytes(layers: 30, positions: 1 << 58, rowSize: 192, types: .f32))
        XCTAssertNil(MemoryPlan.kvCacheBytes(layers: 30, positions: Int.max, rowSize: 192, types: .default))
        XCTAssertNil(MemoryPlan.kvCacheBytes(layers: 2, positions: 1 << 40, rowSize: 1 << 20, types: .default, slots: 4))
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
        // SmolLM2: 30 layers × 3 KV heads × 64 × 2 (K and V) × 2 bytes (f16) = 23 040 bytes per position.
        XCTAssertEqual(plan.kvCacheBytes, 4 * 8192 * 23_040)
        XCTAssertEqual(try model.memoryEstimate(contextLength: 8192, weightBytes: 0, cacheTypes: .f32).kvCacheBytes, 8192 * 46_080)
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
