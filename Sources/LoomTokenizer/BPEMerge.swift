/// The BPE merge loop over one pre-tokenized word: repeatedly merge the adjacent pair with the
/// lowest merge rank, the leftmost one on a tie, until no adjacent pair has a merge.
/// [llama.cpp llm_tokenizer_bpe_session::tokenize; HF tokenizers models/bpe/word.rs]
///
/// Short words (nearly all of them) use an in-place scan over a rank cache, O(n²) in the
/// worst case but allocation-free and branch-light; long words use a binary heap over a
/// linked list of symbols, O(n log n), so a 100 000-letter run is still fast.
struct BPEMerge {
    /// Words up to this many initial symbols use the quadratic scan.
    static let scanLimit = 128

    private var ranks: [UInt64] = []
    private var prev: [Int32] = []
    private var next: [Int32] = []
    private var heap: [HeapEntry] = []

    private struct HeapEntry {
        /// rank << 32 | left position: orders by rank, then by position.
        var order: UInt64
        var left: Int32
        var right: Int32
        var merged: Int32
    }

    /// Merges `syms[0..<count]` in place and returns the number of symbols left.
    mutating func merge(_ syms: inout [Int32], count: Int, pairs: PairTable) -> Int {
        if count < 2 { return count }
        return count <= Self.scanLimit
            ? scanMerge(&syms, count: count, pairs: pairs)
            : heapMerge(&syms, count: count, pairs: pairs)
    }

    private mutating func scanMerge(_ syms: inout [Int32], count: Int, pairs: PairTable) -> Int {
        if ranks.count < count { ranks = [UInt64](repeating: 0, count: Swift.max(count, 64)) }
        var n = count
        return syms.withUnsafeMutableBufferPointer { s in
            ranks.withUnsafeMutableBufferPointer { r in
                for i in 0 ..< n - 1 { r[i] = pairs.lookup(s[i], s[i + 1]) }
                while n > 1 {
                    // r[i] packs rank (high) and merged id (low); ranks are unique per pair,
                    // so comparing packed values compares ranks, and `<` keeps the leftmost.
                    var best = UInt64.max, p = -1
                    for i in 0 ..< n - 1 where r[i] < best {
                        best = r[i]
                        p = i
                    }
                    if p < 0 { break }
                    s[p] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    // Drop symbol p+1 and the pair (p+1, p+2) it started.
                    var i = p + 1
                    while i < n - 1 {
                        s[i] = s[i + 1]
                        i += 1
                    }
                    i = p + 1
                    while i < n - 2 {
                        r[i] = r[i + 1]
                        i += 1
                    }
                    n -= 1
                    if p > 0 { r[p - 1] = pairs.lookup(s[p - 1], s[p]) }
                    if p < n - 1 { r[p] = pairs.lookup(s[p], s[p + 1]) }
                }
                return n
            }
        }
    }

    /// The heap algorithm for any length (tests compare it with the scan on short words).
    mutating func mergeWithHeap(_ syms: inout [Int32], count: Int, pairs: PairTable) -> Int {
        count < 2 ? count : heapMerge(&syms, count: count, pairs: pairs)
    }

    private mutating func heapMerge(_ syms: inout [Int32], count n: Int, pairs: PairTable) -> Int {
        prev = (0 ..< n).map { Int32($0 - 1) }
        next = (0 ..< n).map { $0 + 1 < n ? Int32($0 + 1) : -1 }
        heap.removeAll(keepingCapacity: true)
        for i in 0 ..< n - 1 { push(pairs, syms[i], syms[i + 1], at: i) }
        while let e = pop() {
            let pos = Int(e.order & 0xFFFF_FFFF)
            // Stale entries: the left symbol changed (or died), or its right neighbour did.
            guard syms[pos] == e.left else { continue }
            let r = Int(next[pos])
            guard r >= 0, syms[r] == e.right else { continue }
            syms[pos] = e.merged
            syms[r] = -1
            let after = next[r]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0 { push(pairs, syms[before], syms[pos], at: before) }
            if after >= 0 { push(pairs, syms[pos], syms[Int(after)], at: pos) }
        }
        // Position 0 is never merged away (merges fold the right symbol into the left one).
        var out = 0, i = 0
        while i >= 0 {
            syms[out] = syms[i]
            out += 1
            i = Int(next[i])
        }
        return out
    }

    private mutating func push(_ pairs: PairTable, _ left: Int32, _ right: Int32, at pos: Int) {
        let v = pairs.lookup(left, right)
        if v == UInt64.max { return }
        let entry = HeapEntry(order: (v >> 32) << 32 | UInt64(pos), left: left, right: right,
                              merged: Int32(truncatingIfNeeded: v & 0xFFFF_FFFF))
        heap.append(entry)
        var c = heap.count - 1
        while c > 0 {
            let parent = (c - 1) / 2
            if heap[parent].order <= entry.order { break }
            heap[c] = heap[parent]
            c = parent
        }
        heap[c] = entry
    }

    private mutating func pop() -> HeapEntry? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        var c = 0
        let n = heap.count
        while true {
            var child = 2 * c + 1
            if child >= n { break }
            if child + 1 < n && heap[child + 1].order < heap[child].order { child += 1 }
            if heap[child].order >= last.order { break }
            heap[c] = heap[child]
            c = child
        }
        heap[c] = last
        return top
    }
}
