import Foundation

/// Bytes an evaluation state will reserve, computed with checked arithmetic and compared with
/// the machine's memory before anything is allocated. A context or slot count too large for
/// the machine (or so large the byte count overflows) is then an error naming both numbers,
/// not an out-of-memory kill, an allocation abort, or — in a build without overflow traps
/// (`-Ounchecked`) — a wrapped size and a buffer far smaller than what is written into it.
enum MemoryPlan {
    /// `2 × layers × positions × rowSize` floats of KV cache for each of `slots` sequences.
    static func kvCacheBytes(layers: Int, positions: Int, rowSize: Int, slots: Int = 1) -> Int? {
        var bytes = MemoryLayout<Float>.stride
        for factor in [2, layers, positions, rowSize, slots] {
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
    static func checkKVCache(layers: Int, positions: Int, rowSize: Int, slots: Int = 1) throws {
        let what = slots == 1 ? "the KV cache for \(positions) positions"
            : "the KV caches of \(slots) slots × \(positions) positions"
        guard let bytes = kvCacheBytes(layers: layers, positions: positions, rowSize: rowSize, slots: slots) else {
            throw ModelError.insufficientMemory(what: what, requested: nil, available: physicalMemory)
        }
        guard bytes <= physicalMemory else {
            throw ModelError.insufficientMemory(what: what, requested: bytes, available: physicalMemory)
        }
    }
}
