/// The GPT-2 byte-level alphabet: every byte 0...255 is represented by one printable Unicode
/// scalar, so a vocabulary of strings can hold arbitrary byte sequences.
///
/// Bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand for themselves; the other 68 bytes
/// (controls, space, 0x7F-0xA0, soft hyphen) map in ascending order to U+0100, U+0101, …
/// (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A). [llama.cpp unicode_byte_to_utf8_map]
enum ByteLevel {
    /// The scalar value that represents each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `scalarForByte` for scalars below U+0144 (the largest mapped value);
    /// -1 where the scalar represents no byte.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for b in 0..<256 { table[Int(scalarForByte[b])] = Int16(b) }
        return table
    }()

    /// UTF-8 of the representing scalar of each byte, packed little-endian: low byte first,
    /// length 1 or 2 in `utf8Length`. Used to build the vocabulary text of a byte sequence
    /// without going through `String`.
    static let utf8ForByte: [(UInt8, UInt8, Int)] = scalarForByte.map { s in
        if s < 0x80 { return (UInt8(s), 0, 1) }
        return (UInt8(0xC0 | (s >> 6)), UInt8(0x80 | (s & 0x3F)), 2)
    }

    /// The byte a vocabulary scalar stands for, or nil when the scalar is outside the alphabet.
    @inline(__always)
    static func byte(for scalar: UInt32) -> UInt8? {
        guard scalar < 0x144 else { return nil }
        let b = byteForScalar[Int(scalar)]
        return b < 0 ? nil : UInt8(b)
    }

    /// Decodes a vocabulary string to the bytes it stands for; nil when any scalar lies outside
    /// the byte alphabet (the caller then uses the raw UTF-8, as HF's ByteLevel decoder does).
    static func decode(_ text: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            guard let b = byte(for: scalar.value) else { return nil }
            out.append(b)
        }
        return out
    }
}
