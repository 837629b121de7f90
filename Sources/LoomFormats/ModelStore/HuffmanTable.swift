/// A canonical Huffman code as a two-level lookup table, for `Inflater`.
///
/// The primary table is indexed by the next `primaryBits` input bits (least significant bit
/// first, as deflate packs codes bit-reversed). Codes longer than that point to a subtable
/// indexed by the following bits. Each entry is a `UInt32`:
/// bits 0–7 the code length in bits (for a subtable pointer: the subtable's index width),
/// bits 8–9 the kind (0 symbol, 1 subtable pointer, 2 no code), bits 16–31 the symbol or the
/// subtable's offset in `entries`.
struct HuffmanTable {
    /// Which deflate alphabet the code belongs to; they differ in which incomplete codes RFC 1951
    /// (as zlib reads it) tolerates.
    enum Kind {
        case codeLength, literalLength, distance
    }

    static let kindMask: UInt32 = 0x300
    static let subtableKind: UInt32 = 0x100
    static let invalidEntry: UInt32 = 0x200

    /// Primary table followed by all subtables.
    private(set) var entries: [UInt32] = []

    /// Rebuilds the table from per-symbol code lengths (0 = symbol unused, 1...15).
    /// Throws for over-subscribed codes and for incomplete ones except the two deflate allows:
    /// a single one-bit code, and (for distances) no codes at all.
    mutating func build(lengths: [UInt8], primaryBits: Int, kind: Kind) throws {
        var count = [Int](repeating: 0, count: 16)
        var maxLength = 0
        for len in lengths {
            guard len <= 15 else { throw Inflater.Failure(reason: "code length \(len) exceeds 15", offset: 0) }
            count[Int(len)] += 1
            maxLength = max(maxLength, Int(len))
        }
        count[0] = 0
        var left = 1
        for len in 1...15 {
            left = (left << 1) - count[len]
            guard left >= 0 else {
                throw Inflater.Failure(reason: "over-subscribed Huffman code in a \(kind) table", offset: 0)
            }
        }
        if left > 0 {
            let tolerated = maxLength == 0 ? kind != .codeLength : (maxLength == 1 && kind != .codeLength)
            guard tolerated else {
                throw Inflater.Failure(reason: "incomplete Huffman code in a \(kind) table", offset: 0)
            }
        }

        // Canonical codes: the first code of each length follows the last of the length before.
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 {
            code = (code + count[len - 1]) << 1
            nextCode[len] = code
        }
        let primarySize = 1 << primaryBits
        let primaryMask = primarySize - 1
        var reversed = [Int](repeating: 0, count: lengths.count)
        var subtableLength = [Int](repeating: 0, count: primarySize)
        for (symbol, len8) in lengths.enumerated() where len8 > 0 {
            let len = Int(len8)
            let c = nextCode[len]
            nextCode[len] += 1
            var r = 0
            for b in 0..<len where c & (1 << b) != 0 { r |= 1 << (len - 1 - b) }
            reversed[symbol] = r
            if len > primaryBits {
                subtableLength[r & primaryMask] = max(subtableLength[r & primaryMask], len)
            }
        }

        entries.removeAll(keepingCapacity: true)
        entries.append(contentsOf: repeatElement(HuffmanTable.invalidEntry, count: primarySize))
        for prefix in 0..<primarySize where subtableLength[prefix] > 0 {
            let width = subtableLength[prefix] - primaryBits
            entries[prefix] = UInt32(entries.count) << 16 | HuffmanTable.subtableKind | UInt32(width)
            entries.append(contentsOf: repeatElement(HuffmanTable.invalidEntry, count: 1 << width))
        }
        for (symbol, len8) in lengths.enumerated() where len8 > 0 {
            let len = Int(len8)
            let r = reversed[symbol]
            let leaf = UInt32(symbol) << 16 | UInt32(len)
            if len <= primaryBits {
                // Every index whose low `len` bits are this code decodes to it.
                var i = r
                while i < primarySize {
                    entries[i] = leaf
                    i += 1 << len
                }
            } else {
                let pointer = entries[r & primaryMask]
                let base = Int(pointer >> 16)
                let width = Int(pointer & 0xFF)
                var i = r >> primaryBits
                while i < 1 << width {
                    entries[base + i] = leaf
                    i += 1 << (len - primaryBits)
                }
            }
        }
    }
}
