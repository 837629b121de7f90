import Foundation
import LoomKernels

/// Keys and values of every layer for up to `capacity` positions, each stored as its
/// ``KVCacheType`` (``KVCacheTypes``; f16 by default, as in llama.cpp).
///
/// Layout per layer: `[position × kvHeads × headDim]` elements of the type, so the K/V
/// projections of a batch are converted straight into the cache rows of their positions
/// (``store(layer:position:keys:values:count:)``) and the attention kernels read the rows in
/// place (``KVRows``). All layers live in one block (keys of layer 0, its values, keys of
/// layer 1, …), reserved up front but only touched (and so only resident) as positions fill.
///
/// Decode attention reads one KV head's rows of every cached position: 256 bytes out of
/// every 768 on SmolLM2 (f32), so every 4 KB page of a layer is visited for a few rows. Past a
/// thousand positions that is tens of megabytes per token through 4 KB pages, far beyond
/// the TLB's reach, and page walks dominated long-context decode. On Linux the block is
/// therefore handed to transparent huge pages once the cache is full enough
/// (``reserve(positions:)``), which made long-context decode clearly faster (BENCHMARKS.md,
/// "Kernel design measurements"). Until then
/// the cache stays in 4 KB pages, so a short conversation in a long context does not make
/// 2 MB per layer resident.
public final class KVCache {
    public let layers: Int
    public let capacity: Int
    /// Elements per position per layer (kvHeads × headDim).
    public let rowSize: Int
    /// The storage types of keys and values.
    public let types: KVCacheTypes
    /// Bytes of one position's keys and of its values in one layer.
    public let keyRowBytes: Int, valueRowBytes: Int
    private let storage: UnsafeMutableRawPointer
    private let storageBytes: Int
    /// The sequence length the slot's dynamic RoPE frequencies are computed for
    /// (``DynamicRopeScaling``; transformers' `max_seq_len_cached`), 0 before any.
    public internal(set) var ropeLength = 0
    /// Whether the block has been advised to use huge pages.
    public private(set) var usesHugePages = false
    /// Positions from which ``reserve(positions:)`` asks for huge pages (see there).
    private let hugePagePositions: Int

    /// The size of a transparent huge page (x86-64 and arm64 Linux with 4 KB base pages).
    static let hugePageBytes = 1 << 21

    /// A cache of `capacity` positions of `rowSize` elements per layer. Block types need
    /// `rowSize` to be whole blocks (the model checks heads; see ``KVCacheTypes/check(headDim:)``).
    public init(layers: Int, capacity: Int, rowSize: Int, types: KVCacheTypes = .default) {
        precondition(rowSize % types.keys.ggmlType.blockSize == 0 && rowSize % types.values.ggmlType.blockSize == 0,
                     "KVCache: rows of \(rowSize) are not whole blocks of \(types)")
        self.layers = layers
        self.capacity = capacity
        self.rowSize = rowSize
        self.types = types
        keyRowBytes = types.keys.rowBytes(elements: rowSize)
        valueRowBytes = types.values.rowBytes(elements: rowSize)
        let bytes = max(1, layers * capacity * (keyRowBytes + valueRowBytes))
        // Whole huge pages, so that the advice covers the end of the block too.
        storageBytes = (bytes + Self.hugePageBytes - 1) / Self.hugePageBytes * Self.hugePageBytes
        storage = UnsafeMutableRawPointer.allocate(byteCount: storageBytes, alignment: Self.hugePageBytes)
        // Huge pages make resident every 2 MB page a layer has touched. Waiting until each
        // layer holds 2 MB of rows (or, for a small cache, half its capacity) keeps the
        // cache's resident size within twice what 4 KB pages would have.
        let rowBytes = max(1, keyRowBytes)
        hugePagePositions = min((Self.hugePageBytes + rowBytes - 1) / rowBytes, (capacity + 1) / 2)
    }

    deinit { storage.deallocate() }

    /// Called before positions up to `positions` are written: once that is past the
    /// threshold above, asks the kernel (Linux) to back the block with 2 MB pages. Only
    /// pages faulted in afterwards are huge at once; the kernel may merge earlier ones later.
    public func reserve(positions: Int) {
        guard !usesHugePages, positions >= hugePagePositions else { return }
        usesHugePages = true
        #if os(Linux)
        _ = madvise(storage, storageBytes, Int32(MADV_HUGEPAGE))
        #endif
    }

    /// Layer `layer`'s cached keys from position 0.
    @inlinable public func keys(layer: Int) -> KVRows {
        KVRows(base: keyStart(layer), type: types.keys.ggmlType, rowBytes: keyRowBytes)
    }

    /// Layer `layer`'s cached values from position 0.
    @inlinable public func values(layer: Int) -> KVRows {
        KVRows(base: valueStart(layer), type: types.values.ggmlType, rowBytes: valueRowBytes)
    }

    @usableFromInline func keyStart(_ layer: Int) -> UnsafeMutableRawPointer {
        storage + layer * capacity * (keyRowBytes + valueRowBytes)
    }

    @usableFromInline func valueStart(_ layer: Int) -> UnsafeMutableRawPointer {
        keyStart(layer) + capacity * keyRowBytes
    }

    /// Converts `count` positions of float keys and values (`[count × rowSize]` each) into
    /// layer `layer`'s rows from `position` on (llama.cpp's `ggml_cpy` into its cache view:
    /// the same quantisers, ``RowQuantizer``).
    public func store(layer: Int, position: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, count: Int) {
        precondition(position >= 0 && count >= 0 && position + count <= capacity,
                     "KVCache.store: positions \(position)..<\(position + count) outside the capacity \(capacity)")
        RowQuantizer.quantize(types.keys.ggmlType, keys, into: keyStart(layer) + position * keyRowBytes, count: count * rowSize)
        RowQuantizer.quantize(types.values.ggmlType, values, into: valueStart(layer) + position * valueRowBytes,
                              count: count * rowSize)
    }

    /// Dequantises `count` positions of layer `layer` from `position` into `keys` and `values`
    /// (`[count × rowSize]` floats each): what the attention kernels see.
    public func load(layer: Int, position: Int, count: Int, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>) {
        precondition(position >= 0 && count >= 0 && position + count <= capacity,
                     "KVCache.load: positions \(position)..<\(position + count) outside the capacity \(capacity)")
        self.keys(layer: layer).dequantize(first: position, count: count, width: rowSize, into: keys)
        self.values(layer: layer).dequantize(first: position, count: count, width: rowSize, into: values)
    }

    /// Copies the keys and values of positions `0 ..< count` of every layer from `source`
    /// (llama.cpp's `llama_memory_seq_cp`): a sequence with the same prefix then starts after
    /// it without evaluating it. Rows move as bytes, so the copy is exact in every cache type.
    public func copyPrefix(from source: KVCache, count: Int) {
        precondition(source.layers == layers && source.rowSize == rowSize && source.types == types,
                     "KVCache.copyPrefix: caches of different shapes or types")
        precondition(count >= 0 && count <= capacity && count <= source.capacity,
                     "KVCache.copyPrefix: \(count) positions outside the capacity")
        reserve(positions: count)
        for layer in 0..<layers {
            keyStart(layer).copyMemory(from: source.keyStart(layer), byteCount: count * keyRowBytes)
            valueStart(layer).copyMemory(from: source.valueStart(layer), byteCount: count * valueRowBytes)
        }
        ropeLength = source.ropeLength
    }

    /// llama.cpp's context shift (`llama_memory_seq_rm` + `llama_memory_seq_add`, then its
    /// K-shift graph): drops positions `keep ..< keep + discard` of every layer and moves the
    /// `filled - keep - discard` positions after them down by `discard`. Values move as bytes;
    /// each moved key row is dequantised, passed to `rotate` (which re-rotates its heads by
    /// the position delta) and stored again, so no token is evaluated again.
    public func shift(keep: Int, discard: Int, filled: Int, rotate: (UnsafeMutablePointer<Float>) -> Void) {
        precondition(keep >= 0 && discard > 0 && keep + discard <= filled && filled <= capacity,
                     "KVCache.shift: keep \(keep), discard \(discard), filled \(filled), capacity \(capacity)")
        let moved = filled - keep - discard
        let chunk = 256
        let row = UnsafeMutablePointer<Float>.allocate(capacity: chunk * rowSize)
        defer { row.deallocate() }
        for layer in 0..<layers {
            let values = valueStart(layer)
            (values + keep * valueRowBytes).copyMemory(from: values + (keep + discard) * valueRowBytes, byteCount: moved * valueRowBytes)
            var done = 0
            while done < moved {
                // The whole chunk is read before any of it is written (rows only move down).
                let count = min(chunk, moved - done)
                keys(layer: layer).dequantize(first: keep + discard + done, count: count, width: rowSize, into: row)
                for r in 0..<count { rotate(row + r * rowSize) }
                RowQuantizer.quantize(types.keys.ggmlType, row, into: keyStart(layer) + (keep + done) * keyRowBytes,
                                      count: count * rowSize)
                done += count
            }
        }
    }

    /// Bytes reserved.
    public var byteCount: Int { layers * capacity * (keyRowBytes + valueRowBytes) }
}
