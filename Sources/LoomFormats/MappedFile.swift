#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to open or map a file, with the OS error text.
public struct MappedFileError: Error, CustomStringConvertible {
    /// The path that was being opened.
    public let path: String
    /// What went wrong, e.g. `open failed: No such file or directory`.
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}

/// A read-only memory mapping of a whole file (`mmap(PROT_READ, MAP_PRIVATE)`).
///
/// Model files are hundreds of megabytes; mapping them lets the kernel page weights in on
/// demand and share them between processes, instead of copying them onto the heap. The mapping
/// lives exactly as long as this object, so anything holding a pointer into it must keep the
/// object alive. Immutable after `init`, hence `@unchecked Sendable`.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// Size of the file in bytes at the time it was mapped.
    public let size: Int
    /// First byte of the mapping, or `nil` for an empty file (`mmap` cannot map zero bytes).
    public let base: UnsafeRawPointer?

    /// Opens and maps `path`. The file descriptor is closed right away; the mapping stays valid.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw MappedFileError(path: path, reason: "open failed: \(MappedFile.errnoText())")
        }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw MappedFileError(path: path, reason: "fstat failed: \(MappedFile.errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw MappedFileError(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        self.size = size
        if size == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw MappedFileError(path: path, reason: "mmap of \(size) bytes failed: \(MappedFile.errnoText())")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        }
    }

    /// The whole mapping as a byte buffer (empty for an empty file).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: size)
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
