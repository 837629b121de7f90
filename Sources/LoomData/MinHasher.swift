/// MinHash signatures of documents over word shingles (Broder 1997, "On the resemblance and
/// containment of documents").
///
/// Words are maximal runs of letters and digits, lowercased; a shingle is `shingleSize`
/// consecutive words (a shorter document is one shingle). Each of the `permutations` hash
/// functions is a multiply-add-shift hash `((a·x + b) mod 2⁶⁴) >> 32` of the shingle's
/// 64-bit hash folded to 32 bits, `x`, with random 64-bit `a` and `b` (Dietzfelbinger 1996,
/// "Universal hashing and k-wise independent random variables via integer arithmetic
/// without primes": strongly universal for 32-bit keys); the signature keeps the minimum of
/// each. `a·x` is computed as two 32 × 32-bit products, which the compiler vectorises. The fraction of equal signature entries of two documents
/// estimates the Jaccard similarity of their shingle sets.
public struct MinHasher: Sendable {
    /// Words per shingle.
    public let shingleSize: Int
    /// Hash functions (signature length).
    public let permutations: Int
    /// The low and high 32 bits of each `a`, and each `b`.
    private let aLow: [UInt64]
    private let aHigh: [UInt64]
    private let b: [UInt64]

    /// A hasher; `seed` fixes the hash functions, so signatures are comparable across runs.
    public init(shingleSize: Int = 5, permutations: Int = 128, seed: UInt64 = 1) throws {
        guard shingleSize >= 1 else { throw DataError("--shingle must be at least 1 (got \(shingleSize))") }
        guard permutations >= 2 && permutations <= 4096 else { throw DataError("--num-perm must be between 2 and 4096 (got \(permutations))") }
        self.shingleSize = shingleSize
        self.permutations = permutations
        var state = seed
        func next() -> UInt64 {  // SplitMix64 (Steele et al. 2014)
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let a = (0 ..< permutations).map { _ in next() | 1 }
        aLow = a.map { $0 & 0xFFFF_FFFF }
        aHigh = a.map { $0 >> 32 }
        b = (0 ..< permutations).map { _ in next() }
    }

    /// The hashes of the lowercased words of `text`.
    ///
    /// One pass over the UTF-8 bytes: ASCII letters and digits byte by byte; other
    /// characters are decoded and kept (lowercased) when alphabetic or numeric. The state
    /// lives inside the closure (no nested function capturing it), so Swift checks
    /// exclusive access statically: captured mutable state cost a fifth of `dedup`'s time
    /// in dynamic access checks.
    public static func wordHashes(_ text: String) -> [UInt64] {
        var copy = text
        return copy.withUTF8 { bytes -> [UInt64] in
            var hashes: [UInt64] = []
            hashes.reserveCapacity(bytes.count / 6)
            var word: [UInt8] = []
            word.reserveCapacity(64)
            let n = bytes.count
            var i = 0
            while i <= n {
                var wordCharacter = false
                if i == n {
                    i += 1
                } else {
                    let c = bytes[i]
                    if c < 0x80 {
                        i += 1
                        if (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) { word.append(c); continue }
                        if c >= 0x41 && c <= 0x5A { word.append(c | 0x20); continue }
                    } else {
                        let length = c >= 0xF0 ? 4 : (c >= 0xE0 ? 3 : 2)
                        if i + length > n { i = n; continue }
                        var v = UInt32(c) & (length == 2 ? 0x1F : (length == 3 ? 0x0F : 0x07))
                        for k in 1 ..< length { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
                        i += length
                        if let scalar = Unicode.Scalar(v), scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                            word.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                            wordCharacter = true
                        }
                    }
                }
                if !wordCharacter && !word.isEmpty {
                    hashes.append(word.withUnsafeBytes { StableHash.hash64($0) })
                    word.removeAll(keepingCapacity: true)
                }
            }
            return hashes
        }
    }

    /// The shingle hashes of a word sequence (possibly repeated).
    public func shingles(_ words: [UInt64]) -> [UInt64] {
        if words.isEmpty { return [] }
        let k = min(shingleSize, words.count)
        var out: [UInt64] = []
        out.reserveCapacity(words.count - k + 1)
        for i in 0 ... (words.count - k) {
            var h = words[i]
            for j in 1 ..< k { h = StableHash.combine(h, words[i + j]) }
            out.append(h)
        }
        return out
    }

    /// The distinct shingles of `text` (for exact Jaccard similarity).
    public func shingleSet(_ text: String) -> Set<UInt64> { Set(shingles(Self.wordHashes(text))) }

    /// The signature of a set of shingle hashes; all `UInt32.max` for an empty set.
    public func signature(shingles: [UInt64]) -> [UInt32] {
        var mins = [UInt32](repeating: UInt32.max, count: permutations)
        aLow.withUnsafeBufferPointer { aLow in
            aHigh.withUnsafeBufferPointer { aHigh in
                b.withUnsafeBufferPointer { b in
                    mins.withUnsafeMutableBufferPointer { m in
                        for shingle in shingles {
                            let x = (shingle ^ (shingle >> 32)) & 0xFFFF_FFFF
                            for p in 0 ..< m.count {
                                // (a·x + b) mod 2⁶⁴ with a = aHigh·2³² + aLow, then its high half.
                                let v = UInt32(truncatingIfNeeded: (aLow[p] &* x &+ (aHigh[p] &* x) << 32 &+ b[p]) >> 32)
                                m[p] = min(m[p], v)
                            }
                        }
                    }
                }
            }
        }
        return mins
    }

    /// The signature of `text`.
    public func signature(_ text: String) -> [UInt32] { signature(shingles: shingles(Self.wordHashes(text))) }

    /// The estimated Jaccard similarity of two signatures: the fraction of equal entries.
    public static func estimatedJaccard(_ x: ArraySlice<UInt32>, _ y: ArraySlice<UInt32>) -> Double {
        var equal = 0
        for (u, v) in zip(x, y) where u == v { equal += 1 }
        return Double(equal) / Double(max(1, x.count))
    }

    /// The exact Jaccard similarity of two sets.
    public static func jaccard(_ x: Set<UInt64>, _ y: Set<UInt64>) -> Double {
        if x.isEmpty && y.isEmpty { return 1 }
        let inter = x.intersection(y).count
        return Double(inter) / Double(x.count + y.count - inter)
    }
}
