/// Disjoint sets over `0..<n` with path halving; the root of a set is its smallest member,
/// so a cluster's representative is its first document in input order.
public struct UnionFind: Sendable {
    private var parent: [Int32]

    /// `n` singleton sets.
    public init(count n: Int) { parent = (0 ..< Int32(n)).map { $0 } }

    /// The representative (smallest member) of `x`'s set.
    public mutating func find(_ x: Int) -> Int {
        var x = Int32(x)
        while parent[Int(x)] != x {
            parent[Int(x)] = parent[Int(parent[Int(x)])]
            x = parent[Int(x)]
        }
        return Int(x)
    }

    /// Merges the sets of `x` and `y`; true if they were separate.
    @discardableResult
    public mutating func union(_ x: Int, _ y: Int) -> Bool {
        let rx = find(x)
        let ry = find(y)
        if rx == ry { return false }
        if rx < ry { parent[ry] = Int32(rx) } else { parent[rx] = Int32(ry) }
        return true
    }
}
