/// A bounds-checked little-endian reader over a mapped byte range.
///
/// Every read checks the remaining length first and throws a `GGUFError` naming the field, so
/// a hostile file can never make the parser read outside the mapping. Field names are passed
/// as autoclosures: the parser reads ~300k values from a large tokenizer, and building a name
/// string for each of them would cost more than the reads themselves.
struct GGUFCursor {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    private(set) var position: Int = 0

    init(base: UnsafeRawPointer, size: Int, path: String) {
        self.base = base
        self.size = size
        self.path = path
    }

    /// Bytes left after the current position.
    @inline(__always) var remaining: Int { size - position }

    /// An error for `field` at `offset` (default: the current position).
    func error(_ field: String, at offset: Int? = nil, _ reason: String) -> GGUFError {
        GGUFError(path: path, field: field, offset: offset ?? position, reason: reason)
    }

    /// Throws unless `count` more bytes are available.
    @inline(__always)
    func require(_ count: Int, _ field: @autoclosure () -> String) throws {
        guard count <= remaining else {
            throw error(field(), "file is truncated (needs \(count) bytes, only \(remaining) left)")
        }
    }

    /// Reads one little-endian integer.
    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, field())
        let raw = base.loadUnaligned(fromByteOffset: position, as: T.self)
        position += MemoryLayout<T>.size
        return T(littleEndian: raw)
    }

    /// Reads a `u64` length-prefixed UTF-8 string, rejecting lengths beyond the file and
    /// byte sequences that are not valid UTF-8.
    mutating func readString(_ field: @autoclosure () -> String) throws -> String {
        let start = position
        let length = try read(UInt64.self, field())
        guard length <= UInt64(remaining) else {
            throw error(field(), at: start,
                        "string length \(length) exceeds the \(remaining) bytes left in the file")
        }
        let count = Int(length)
        let bytes = UnsafeRawBufferPointer(start: base + position, count: count)
        guard let string = GGUFCursor.decodeUTF8(bytes) else {
            throw error(field(), at: start, "string of \(count) bytes is not valid UTF-8")
        }
        position += count
        return string
    }

    /// Decodes UTF-8, or returns `nil` if the bytes are not valid UTF-8 (no repair: a
    /// silently altered token or tensor name would be a wrong answer, not an error).
    @inline(__always)
    static func decodeUTF8(_ bytes: UnsafeRawBufferPointer) -> String? {
        // Pure ASCII (most names and many tokens) needs no validation.
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii {
            return String(decoding: bytes, as: UTF8.self)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Rounds `value` up to a multiple of `alignment` (a power of two), or
    /// returns `nil` on overflow.
    static func padded(_ value: Int, to alignment: Int) -> Int? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }
}
