import Foundation

/// Keys and values of every layer for up to `capacity` positions, as floats.
///
/// Layout per layer: `[position × kvHeads × headDim]`, so the K/V projections of a batch
/// are written straight into the cache rows of their positions. All layers live in one
/// block (keys of layer 0, its values, keys of layer 1, …), reserved up front but only
/// touched (and so only resident) as positions fill.
///
/// Decode attention reads one KV head's rows of every cached position: 256 bytes out of
/// every 768 on SmolLM2, so every 4 KB page of a layer is visited for a few rows. Past a
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
    /// Floats per position per layer (kvHeads × headDim).
    public let rowSize: Int
    private let storage: UnsafeMutablePointer<Float>
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

    public init(layers: Int, capacity: Int, rowSize: Int) {
        self.layers = layers
        self.capacity = capacity
        self.rowSize = rowSize
        let bytes = max(1, 2 * layers * capacity * rowSize) * MemoryLayout<Float>.stride
        // Whole huge pages, so that the advice covers the end of the block too.
        storageBytes = (bytes + Self.hugePageBytes - 1) / Self.hugePageBytes * Self.hugePageBytes
        storage = UnsafeMutableRawPointer.allocate(byteCount: storageBytes, alignment: Self.hugePageBytes)
            .bindMemory(to: Float.self, capacity: storageBytes / MemoryLayout<Float>.stride)
        // Huge pages make resident every 2 MB page a layer has touched. Waiting until each
        // layer holds 2 MB of rows (or, for a small cache, half its capacity) keeps the
        // cache's resident size within twice what 4 KB pages would have.
        let rowBytes = max(1, rowSize * MemoryLayout<Float>.stride)
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
        _ = madvise(UnsafeMutableRawPointer(storage), storageBytes, Int32(MADV_HUGEPAGE))
        #endif
    }

    /// Start of layer `layer`'s keys (position 0).
    @inlinable public func keys(layer: Int) -> UnsafeMutablePointer<Float> { keyPointer(layer) }
    /// Start of layer `layer`'s values (position 0).
    @inlinable public func values(layer: Int) -> UnsafeMutablePointer<Float> { valuePointer(layer) }

    @usableFromInline func keyPointer(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + (2 * layer) * capacity * rowSize }
    @usableFromInline func valuePointer(_ layer: Int) -> UnsafeMutablePointer<Float> { storage + (2 * layer + 1) * capacity * rowSize }

    /// Bytes reserved.
    public var byteCount: Int { 2 * layers * capacity * rowSize * MemoryLayout<Float>.size }
}
