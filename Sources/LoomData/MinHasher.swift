/// MinHash signatures of documents over word shingles (Broder 1997, "On the resemblance and
/// containment of documents").
///
/// Words are maximal runs of letters and digits, lowercased; a shingle is `shingleSize`
/// consecutive words (a shorter document is one shingle). Each of the `permutations` hash
/// functions is a multiply-shift hash `(a·x + b) >> 32` of the shingle's 64-bit hash with a
/// random odd `a` (Dietzfelbinger et al. 1997), the cheap 2-universal family; the signature
/// keeps the minimum of each. The fraction of equal signature entries of two documents
/// estimates the Jaccard similarity of their shingle sets.
public struct MinHasher: Sendable {
    /// Words per shingle.
    public let shingleSize: Int
    /// Hash functions (signature length).
    public let permutations: Int
    private let a: [UInt64]
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
        a = (0 ..< permutations).map { _ in next() | 1 }
        b = (0 ..< permutations).map { _ in next() }
    }

    /// The hashes of the lowercased words of `text`.
    ///
    /// One pass over the UTF-8 bytes: ASCII letters and digits byte by byte; other
    /// characters are decoded and kept (lowercased) when alphabetic or numeric.
    public static func wordHashes(_ text: String) -> [UInt64] {
        var hashes: [UInt64] = []
        hashes.reserveCapacity(text.utf8.count / 6)
        var word: [UInt8] = []
        var copy = text
        copy.withUTF8 { bytes in
            let n = bytes.count
            var i = 0
            @inline(__always) func endWord() {
                if !word.isEmpty {
                    hashes.append(StableHash.hash64(word))
                    word.removeAll(keepingCapacity: true)
                }
            }
            while i < n {
                let c = bytes[i]
                if c < 0x80 {
                    if (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) { word.append(c) }
                    else if c >= 0x41 && c <= 0x5A { word.append(c | 0x20) }
                    else { endWord() }
                    i += 1
                    continue
                }
                let length = c >= 0xF0 ? 4 : (c >= 0xE0 ? 3 : 2)
                guard i + length <= n else { break }
                var v = UInt32(c) & (length == 2 ? 0x1F : (length == 3 ? 0x0F : 0x07))
                for k in 1 ..< length { v = v << 6 | UInt32(bytes[i + k] & 0x3F) }
                i += length
                guard let scalar = Unicode.Scalar(v) else { endWord(); continue }
                if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                    word.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                } else {
                    endWord()
                }
            }
            endWord()
        }
        return hashes
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
        var mins = [UInt64](repeating: UInt64.max, count: permutations)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                mins.withUnsafeMutableBufferPointer { m in
                    for x in shingles {
                        for p in 0 ..< m.count {
                            let v = (a[p] &* x &+ b[p]) >> 32
                            if v < m[p] { m[p] = v }
                        }
                    }
                }
            }
        }
        return mins.map { UInt32(truncatingIfNeeded: min($0, UInt64(UInt32.max))) }
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
