/// Partial selection of the best `k` logits of a vocabulary without sorting it.
///
/// A bounded heap whose root is the worst kept candidate scans the logits once; because ids are
/// visited in increasing order, a later token with the same logit as the root ranks after it, so
/// a single `>` test against the root's logit rejects almost every token. Chunks of 16 logits
/// that cannot beat the root are skipped with one vector compare. Cost: O(V + k log k · log V)
/// in the typical case, O(V log k) at worst.
enum TopSelection {
    /// Replaces the contents of `out` with the `k` best entries of `logits`, in
    /// ``TokenCandidate/ranksBefore(_:_:)`` order if `sorted`, else in heap order. NaN counts as
    /// `-inf`; `-inf` entries are kept only when `keepNegativeInfinity` is true (they can fill the
    /// list, never displace others).
    static func select(
        _ k: Int, from logits: UnsafeBufferPointer<Float>, keepNegativeInfinity: Bool, sorted: Bool,
        into out: inout [TokenCandidate]
    ) {
        out.removeAll(keepingCapacity: true)
        let k = min(k, logits.count)
        guard k > 0, let base = logits.baseAddress else { return }
        out.reserveCapacity(k)
        let n = logits.count
        var i = 0
        // Fill phase: the first k acceptable tokens go straight into the heap.
        while i < n && out.count < k {
            let l = logits[i].isNaN ? -Float.infinity : logits[i]
            if l > -.infinity || keepNegativeInfinity {
                out.append(TokenCandidate(id: i, logit: l))
                siftUp(&out, out.count - 1)
            }
            i += 1
        }
        guard out.count == k else {
            if sorted { out.sort(by: TokenCandidate.ranksBefore) }
            return
        }
        var root = out[0].logit
        // Scan phase, vectorised: only a chunk holding some logit above the root needs a look.
        // The splat is refreshed only when the root changes: building it inside the loop
        // condition makes LLVM assemble it lane by lane on every chunk (30× slower).
        var root16 = SIMD16<Float>(repeating: root)
        while i + 16 <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD16<Float>.self)
            if any(v .> root16) {
                for j in i..<(i + 16) where logits[j] > root {
                    out[0] = TokenCandidate(id: j, logit: logits[j])
                    siftDown(&out, 0)
                    root = out[0].logit
                }
                root16 = SIMD16(repeating: root)
            }
            i += 16
        }
        while i < n {
            if logits[i] > root {
                out[0] = TokenCandidate(id: i, logit: logits[i])
                siftDown(&out, 0)
                root = out[0].logit
            }
            i += 1
        }
        if sorted { out.sort(by: TokenCandidate.ranksBefore) }
    }

    /// `a` is a worse token than `b` (the heap keeps the worst at the root).
    @inline(__always)
    private static func isWorse(_ a: TokenCandidate, _ b: TokenCandidate) -> Bool {
        a.logit < b.logit || (a.logit == b.logit && a.id > b.id)
    }

    private static func siftUp(_ heap: inout [TokenCandidate], _ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard isWorse(heap[i], heap[parent]) else { return }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private static func siftDown(_ heap: inout [TokenCandidate], _ start: Int) {
        let n = heap.count
        var i = start
        while true {
            let left = 2 * i + 1
            let right = left + 1
            var worst = i
            if left < n && isWorse(heap[left], heap[worst]) { worst = left }
            if right < n && isWorse(heap[right], heap[worst]) { worst = right }
            if worst == i { return }
            heap.swapAt(i, worst)
            i = worst
        }
    }
}
