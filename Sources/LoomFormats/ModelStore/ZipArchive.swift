#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only zip archive (a Python wheel is one), memory-mapped.
///
/// Reads the central directory (including Zip64 records) and extracts stored and deflated
/// entries as a stream, checking the CRC-32 and size of each. Every offset and length read
/// from the file is bounds-checked before use, so a damaged archive gives a `ZipError`
/// naming the problem.
///
/// ```swift
/// let zip = try ZipArchive(path: "pkg-1.0-py3-none-any.whl")
/// guard let entry = zip.entry(named: "pkg/model.gguf") else { … }
/// try zip.extract(entry) { chunk in /* write chunk */ }
/// ```
final class ZipArchive {
    /// One file in the archive, as the central directory describes it.
    struct Entry {
        let name: String
        /// 0 = stored, 8 = deflated; others are rejected at extraction.
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let path: String
    /// Entries in central-directory order.
    private(set) var entries: [Entry] = []
    private let base: UnsafeRawPointer
    private let size: Int

    /// Maps the archive and reads its central directory.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ZipError.malformed(path: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ZipError.malformed(path: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        guard size >= 22 else {
            throw ZipError.malformed(path: path, reason: "\(size) bytes is too small for a zip archive")
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ZipError.malformed(path: path, reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(map)
        do {
            try readCentralDirectory()
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }

    /// The entry with exactly this name, if any.
    func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// Streams the entry's uncompressed bytes to `sink` in order, then checks that their
    /// count and CRC-32 match the central directory.
    func extract(_ entry: Entry, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if entry.flags & 1 != 0 {
            throw ZipError.unsupported(path: path, reason: "\(entry.name) is encrypted")
        }
        let header = entry.localHeaderOffset
        guard header <= size - 30, u32(header) == 0x0403_4b50 else {
            throw ZipError.malformed(path: path, reason: "no local file header for \(entry.name) at offset \(header)")
        }
        let dataStart = header + 30 + Int(u16(header + 26)) + Int(u16(header + 28))
        guard dataStart <= size, entry.compressedSize <= size - dataStart else {
            throw ZipError.malformed(path: path, reason: "data of \(entry.name) runs past the end of the archive")
        }
        let data = UnsafeRawBufferPointer(start: base + dataStart, count: entry.compressedSize)
        var crc = CRC32()
        var produced = 0
        let limit = entry.uncompressedSize
        func checkedSink(_ chunk: UnsafeRawBufferPointer) throws {
            crc.update(chunk)
            produced += chunk.count
            try sink(chunk)
        }
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw ZipError.malformed(path: path, reason: "stored entry \(entry.name) has different compressed and uncompressed sizes")
            }
            var offset = 0
            while offset < data.count {
                let n = min(1 << 20, data.count - offset)
                try checkedSink(UnsafeRawBufferPointer(rebasing: data[offset..<(offset + n)]))
                offset += n
            }
        case 8:
            do {
                try Inflater.inflate(data, outputLimit: limit, sink: checkedSink)
            } catch let failure as Inflater.Failure {
                throw ZipError.corruptEntry(path: path, entry: entry.name, reason: failure.description)
            }
        default:
            throw ZipError.unsupported(path: path, reason: "\(entry.name) uses compression method \(entry.method); only stored (0) and deflate (8) are supported")
        }
        guard produced == entry.uncompressedSize else {
            throw ZipError.corruptEntry(path: path, entry: entry.name, reason: "inflated to \(produced) bytes, the directory says \(entry.uncompressedSize)")
        }
        guard crc.value == entry.crc32 else {
            throw ZipError.corruptEntry(path: path, entry: entry.name, reason: "CRC-32 is \(hex(crc.value)), the directory says \(hex(entry.crc32))")
        }
    }

    // MARK: - Central directory

    private func readCentralDirectory() throws {
        // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
        var eocd = -1
        var p = size - 22
        let lowest = max(0, size - 22 - 0xFFFF)
        while p >= lowest {
            if u32(p) == 0x0605_4b50 && p + 22 + Int(u16(p + 20)) <= size { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else {
            throw ZipError.malformed(path: path, reason: "no end-of-central-directory record (not a zip archive?)")
        }
        var count = Int(u16(eocd + 10))
        var cdSize = Int(u32(eocd + 12))
        var cdOffset = Int(u32(eocd + 16))
        // Zip64: the classic record may hold 0xFFFF… placeholders; the real values are in the
        // Zip64 record that a locator just before the classic record points at.
        if eocd >= 20 && u32(eocd - 20) == 0x0706_4b50 {
            let record = try checkedOffset(u64(eocd - 20 + 8), "Zip64 record offset")
            guard record <= size - 56, u32(record) == 0x0606_4b50 else {
                throw ZipError.malformed(path: path, reason: "Zip64 end record missing at offset \(record)")
            }
            count = try checkedOffset(u64(record + 32), "Zip64 entry count")
            cdSize = try checkedOffset(u64(record + 40), "Zip64 directory size")
            cdOffset = try checkedOffset(u64(record + 48), "Zip64 directory offset")
        } else if cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw ZipError.malformed(path: path, reason: "Zip64 placeholders without a Zip64 locator")
        }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw ZipError.malformed(path: path, reason: "central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the file")
        }
        // Each record is at least 46 bytes; a count that cannot fit is a lie, not an allocation size.
        guard count <= cdSize / 46 else {
            throw ZipError.malformed(path: path, reason: "\(count) entries cannot fit in a \(cdSize)-byte central directory")
        }
        entries.reserveCapacity(count)
        var at = cdOffset
        let end = cdOffset + cdSize
        for index in 0..<count {
            guard at <= end - 46, u32(at) == 0x0201_4b50 else {
                throw ZipError.malformed(path: path, reason: "central directory record \(index) is damaged (offset \(at))")
            }
            let nameLength = Int(u16(at + 28)), extraLength = Int(u16(at + 30)), commentLength = Int(u16(at + 32))
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= end else {
                throw ZipError.malformed(path: path, reason: "central directory record \(index) runs past the directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(start: base + at + 46, count: nameLength), as: UTF8.self)
            var compressed = UInt64(u32(at + 20))
            var uncompressed = UInt64(u32(at + 24))
            var offset = UInt64(u32(at + 42))
            // Zip64 extra field (id 1) holds, in this order, whichever of the three were 0xFFFFFFFF.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra <= extraEnd - 4 {
                let id = u16(extra), length = Int(u16(extra + 2))
                let body = extra + 4
                guard length <= extraEnd - body else { break }
                if id == 1 {
                    var field = body
                    func widen(_ value: inout UInt64) throws {
                        guard value == 0xFFFF_FFFF else { return }
                        guard field <= body + length - 8 else {
                            throw ZipError.malformed(path: path, reason: "Zip64 extra field of \(name) is too short")
                        }
                        value = u64(field)
                        field += 8
                    }
                    try widen(&uncompressed)
                    try widen(&compressed)
                    try widen(&offset)
                }
                extra = body + length
            }
            // Deflate expands at most ~1032:1; a larger claim is damage, and capping it keeps
            // later arithmetic on sizes far from overflow.
            let compressedSize = try checkedOffset(compressed, "compressed size of \(name)")
            guard uncompressed <= UInt64(compressedSize) * 1040 + 1024 else {
                throw ZipError.malformed(path: path, reason: "\(name) claims \(uncompressed) bytes from \(compressed) compressed bytes")
            }
            entries.append(Entry(
                name: name, method: u16(at + 10), flags: u16(at + 8), crc32: u32(at + 16),
                compressedSize: compressedSize,
                uncompressedSize: Int(uncompressed),
                localHeaderOffset: try checkedOffset(offset, "header offset of \(name)")))
            at = next
        }
    }

    /// `value` as an Int, if it can be an offset or length within this file.
    private func checkedOffset(_ value: UInt64, _ what: String) throws -> Int {
        guard value <= UInt64(size) else {
            throw ZipError.malformed(path: path, reason: "\(what) \(value) exceeds the archive size \(size)")
        }
        return Int(value)
    }

    // Little-endian reads; callers have checked the offsets against `size`.
    private func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
    private func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    private func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}
