/// Finds special-token text (control, user-defined and unknown tokens) in raw UTF-8 so it can
/// be split out before pre-tokenization, leftmost match first and the longest token at that
/// position (HF's added-vocabulary matcher is Aho-Corasick with LeftmostLongest semantics).
///
/// A byte trie: special tokens are few (tens to a few hundred) and mostly share a prefix such
/// as "<|", so the root table rejects almost every text position with one load.
struct SpecialTokenMatcher: Sendable {
    private struct Node: Sendable {
        var edges: [(byte: UInt8, child: Int32)] = []
        /// Token ending here, or -1.
        var token: Int32 = -1
        /// Whether that token is recognised only when special parsing is requested (control
        /// and unknown tokens); user-defined tokens are always split out, as in llama.cpp.
        var needsParseSpecial = false
    }

    private var nodes: [Node] = [Node()]
    private var rootChild = [Int32](repeating: -1, count: 256)

    var isEmpty: Bool { nodes.count == 1 }

    /// Adds a token; empty texts are ignored (they would match everywhere).
    mutating func add(text: [UInt8], id: Int, needsParseSpecial: Bool) {
        guard let first = text.first else { return }
        var node: Int
        if rootChild[Int(first)] >= 0 {
            node = Int(rootChild[Int(first)])
        } else {
            node = nodes.count
            nodes.append(Node())
            rootChild[Int(first)] = Int32(node)
        }
        for b in text.dropFirst() {
            if let e = nodes[node].edges.first(where: { $0.byte == b }) {
                node = Int(e.child)
            } else {
                let child = nodes.count
                nodes.append(Node())
                nodes[node].edges.append((b, Int32(child)))
                node = child
            }
        }
        // Two tokens with the same text: keep the first id, as HF's added vocabulary does.
        if nodes[node].token < 0 {
            nodes[node].token = Int32(id)
            nodes[node].needsParseSpecial = needsParseSpecial
        }
    }

    /// The first special token in `text[from...]`: its start, length and id.
    func firstMatch(in text: UnsafeBufferPointer<UInt8>, from: Int, parseSpecial: Bool)
        -> (start: Int, length: Int, id: Int)?
    {
        var p = from
        let n = text.count
        while p < n {
            var node = rootChild[Int(text[p])]
            if node >= 0 {
                var q = p + 1
                var best: (length: Int, id: Int)? = nil
                while true {
                    let nd = nodes[Int(node)]
                    if nd.token >= 0 && (parseSpecial || !nd.needsParseSpecial) {
                        best = (q - p, Int(nd.token))
                    }
                    guard q < n, let e = nd.edges.first(where: { $0.byte == text[q] }) else { break }
                    node = e.child
                    q += 1
                }
                if let best { return (p, best.length, best.id) }
            }
            p += 1
        }
        return nil
    }
}
