import Foundation
import LoomKernels

/// Bytes an evaluation state will reserve, computed with checked arithmetic and compared with
/// the machine's memory before anything is allocated. A context or slot count too large for
/// the machine (or so large the byte count overflows) is then an error naming both numbers,
/// not an out-of-memory kill, an allocation abort, or — in a build without overflow traps
/// (`-Ounchecked`) — a wrapped size and a buffer far smaller than what is written into it.
enum MemoryPlan {
    /// `layers × positions` rows of keys and values (`rowSize` elements each, stored as
    /// `types`) for each of `slots` sequences.
    static func kvCacheBytes(layers: Int, positions: Int, rowSize: Int, types: KVCacheTypes, slots: Int = 1) -> Int? {
        guard rowSize >= 0, rowSize < Int.max / 8 else { return nil }
        var bytes = types.bytesPerPosition(rowSize: rowSize)
        for factor in [layers, positions, slots] {
            guard factor >= 0 else { return nil }
            let (product, overflow) = bytes.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            bytes = product
        }
        return bytes
    }

    /// The machine's physical memory in bytes.
    static var physicalMemory: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

    /// Throws ``ModelError/insufficientMemory(what:requested:available:)`` unless a KV cache of
    /// this shape fits in the machine's memory.
    static func checkKVCache(layers: Int, positions: Int, rowSize: Int, types: KVCacheTypes, slots: Int = 1) throws {
        let what = slots == 1 ? "the KV cache for \(positions) positions"
            : "the KV caches of \(slots) slots × \(positions) positions"
        guard let bytes = kvCacheBytes(layers: layers, positions: positions, rowSize: rowSize, types: types, slots: slots) else {
            throw ModelError.insufficientMemory(what: what, requested: nil, available: physicalMemory)
        }
        guard bytes <= physicalMemory else {
            throw ModelError.insufficientMemory(what: what, requested: bytes, available: physicalMemory)
        }
    }
}
