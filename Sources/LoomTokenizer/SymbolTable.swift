/// Byte-string → symbol id lookup for vocabulary pieces and BPE intermediate symbols.
///
/// Keys are compared byte for byte. (Swift `String` equality is canonical equivalence, which
/// would conflate distinct vocabulary entries such as "é" and "e\u{301}", and hashing it is
/// slow for the non-ASCII byte-level alphabet.) Open addressing with linear probing over a
/// power-of-two slot array; the key bytes live in one arena indexed by symbol id.
struct SymbolTable: Sendable {
    private(set) var arena: [UInt8] = []
    /// `offsets[id] ..< offsets[id + 1]` is the key of symbol `id` in `arena`.
    private(set) var offsets: [Int] = [0]
    private var slots: [Int32]
    private let mask: Int

    /// Number of symbols (ids are `0 ..< count`).
    var count: Int { offsets.count - 1 }

    /// A table sized for up to `capacity` symbols at a load factor of at most one half.
    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        // FNV-1a, 64 bit, finished with a multiply so the low bits (used for the slot) mix well.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in p { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    @inline(__always)
    private func keyEquals(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = offsets[id], end = offsets[id + 1]
        guard end - start == key.count else { return false }
        return arena.withUnsafeBufferPointer { a in
            var i = 0
            while i < key.count {
                if a[start + i] != key[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// The symbol whose key is `key`, if any.
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        var slot = Self.hash(key) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return nil }
            if keyEquals(Int(id), key) { return Int(id) }
            slot = (slot + 1) & mask
        }
    }

    /// Appends a new symbol with `key` and returns its id. If the key is already present the
    /// slot is repointed to the new id (the later of duplicate vocabulary entries wins, as in
    /// llama.cpp's `token_to_id`). The caller guarantees the capacity given at init.
    @discardableResult
    mutating func append(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        let id = count
        arena.append(contentsOf: key)
        offsets.append(arena.count)
        var slot = Self.hash(key) & mask
        while true {
            let existing = slots[slot]
            if existing < 0 || keyEquals(Int(existing), key) {
                slots[slot] = Int32(id)
                return id
            }
            slot = (slot + 1) & mask
        }
    }

    /// The key bytes of symbol `id`.
    func key(_ id: Int) -> ArraySlice<UInt8> { arena[offsets[id] ..< offsets[id + 1]] }
}

/// (left symbol, right symbol) → (merge rank, merged symbol) for BPE merging, keyed on the
/// pair of ids so the merge loop never builds strings.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private let shift: UInt64
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16, bits: UInt64 = 4
        while size < 2 * capacity { size <<= 1; bits += 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
        shift = 64 - bits
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(for key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) & mask
    }

    /// Records a merge unless the pair already has one (the first, lowest-rank entry wins, as
    /// in llama.cpp's `bpe_ranks.emplace`).
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let k = Self.key(left, right)
        var s = slot(for: k)
        while keys[s] != Self.empty {
            if keys[s] == k { return }
            s = (s + 1) & mask
        }
        keys[s] = k
        values[s] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// The merge of `left` followed by `right`: rank in the high 32 bits, merged symbol in the
    /// low 32 bits; `UInt64.max` when the pair does not merge (so it sorts after every rank).
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let k = Self.key(left, right)
        return keys.withUnsafeBufferPointer { kp in
            var s = slot(for: k)
            while true {
                let stored = kp[s]
                if stored == k { return values[s] }
                if stored == Self.empty { return UInt64.max }
                s = (s + 1) & mask
            }
        }
    }
}
