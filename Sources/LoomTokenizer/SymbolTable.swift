/// Byte-string → symbol id lookup for vocabulary pieces and BPE intermediate symbols.
///
/// Keys are compared byte for byte. (Swift `String` equality is canonical equivalence, which
/// would conflate distinct vocabulary entries such as "é" and "e\u{301}", and hashing it is
/// slow for the non-ASCII byte-level alphabet.) Open addressing with linear probing; each slot
/// holds the symbol id and 32 bits of its key's hash, so a probe touches the key bytes (kept in
/// one arena indexed by id) only when the hashes agree. Loading a 150k vocabulary is dominated
/// by these probes, hence the care.
struct SymbolTable: Sendable {
    private(set) var arena: [UInt8] = []
    /// `offsets[id] ..< offsets[id + 1]` is the key of symbol `id` in `arena`.
    private(set) var offsets: [Int] = [0]
    /// 0 = empty; otherwise hash (high 32 bits) | id + 1 (low 32 bits).
    private var slots: [UInt64]
    private var mask: Int

    /// Number of symbols (ids are `0 ..< count`).
    var count: Int { offsets.count - 1 }

    /// A table expecting about `capacity` symbols (it grows beyond that as needed).
    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        arena.reserveCapacity(capacity * 8)
        offsets.reserveCapacity(capacity + 1)
    }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // FNV-1a, 64 bit, finished with a multiply so that both the low bits (the slot) and
        // the high bits (the stored fingerprint) mix well.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in p { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
        return h ^ (h >> 32)
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

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always)
    private func slot(of key: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int {
        let tag = h & 0xFFFF_FFFF_0000_0000
        var s = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { sl in
            while true {
                let v = sl[s]
                if v == 0 { return s }
                if v & 0xFFFF_FFFF_0000_0000 == tag && keyEquals(Int(v & 0xFFFF_FFFF) - 1, key) { return s }
                s = (s + 1) & mask
            }
        }
    }

    /// The symbol whose key is `key`, if any.
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        let v = slots[slot(of: key, hash: Self.hash(key))]
        return v == 0 ? nil : Int(v & 0xFFFF_FFFF) - 1
    }

    /// Appends a new symbol with `key` and returns its id. If the key is already present the
    /// slot is repointed to the new id (the later of duplicate vocabulary entries wins, as in
    /// llama.cpp's `token_to_id`).
    @discardableResult
    mutating func append(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        if 2 * (count + 1) > slots.count { grow() }
        let id = count
        arena.append(contentsOf: key)
        offsets.append(arena.count)
        let h = Self.hash(key)
        slots[slot(of: key, hash: h)] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(id + 1)
        return id
    }

    /// Doubles the slot array and re-inserts every symbol (the latest id wins for duplicates).
    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        for id in 0 ..< count {
            let start = offsets[id], end = offsets[id + 1]
            arena.withUnsafeBufferPointer { a in
                let key = UnsafeBufferPointer(rebasing: a[start ..< end])
                let h = Self.hash(key)
                slots[slot(of: key, hash: h)] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(id + 1)
            }
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
