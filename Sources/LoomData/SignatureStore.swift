/// MinHash signatures of many documents, `width` entries each, in fixed-size blocks.
///
/// A flat `[UInt32]` grows by doubling: while it copies itself its peak is up to three
/// times its contents, and for a corpus of millions of documents that copy dominated
/// `dedup`'s memory. Blocks of `rowsPerBlock` signatures are allocated one at a time and
/// never moved, so memory is the signatures themselves, rounded up to one block
/// (`rowsPerBlock × width × 4` bytes, 8 MiB at 128 permutations).
final class SignatureStore: @unchecked Sendable {
    /// Entries per signature.
    let width: Int
    /// Signatures per block.
    static let rowsPerBlock = 1 << 14
    private var blocks: [UnsafeMutablePointer<UInt32>] = []
    /// Signatures stored.
    private(set) var count = 0

    /// An empty store of signatures of `width` entries.
    init(width: Int) { self.width = width }

    deinit { for block in blocks { block.deallocate() } }

    /// Appends one signature (`width` entries; an empty array appends nothing, for callers
    /// that skip signing).
    func append(contentsOf signature: [UInt32]) {
        if signature.isEmpty { return }
        precondition(signature.count == width, "a signature of \(signature.count) entries in a store of width \(width)")
        let slot = count % Self.rowsPerBlock
        if slot == 0 { blocks.append(.allocate(capacity: Self.rowsPerBlock * width)) }
        let row = blocks[blocks.count - 1] + slot * width
        signature.withUnsafeBufferPointer { row.update(from: $0.baseAddress!, count: width) }
        count += 1
    }

    /// The entries of signature `i` (valid while the store lives; read-only use).
    @inline(__always)
    func row(_ i: Int) -> UnsafePointer<UInt32> {
        UnsafePointer(blocks[i / Self.rowsPerBlock] + (i % Self.rowsPerBlock) * width)
    }

    /// Frees every block.
    func removeAll() {
        for block in blocks { block.deallocate() }
        blocks = []
        count = 0
    }
}
