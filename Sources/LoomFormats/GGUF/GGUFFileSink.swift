#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file atomically: into a uniquely named temporary file in the destination's
/// directory, then `fsync` and `rename` over the destination. A crash or error midway leaves
/// either the old file or none, never a truncated model that would later fail to load.
///
/// Temporaries are `DIR/.NAME.PID.N.tmp`, next to the destination (a rename is atomic only
/// within one filesystem). A process killed with SIGKILL cannot remove its own, so every
/// write first removes the temporaries for the same destination whose process is gone.
struct GGUFFileSink {
    private let fd: Int32
    private let path: String
    private var zeros = [UInt8](repeating: 0, count: 4096)

    /// Creates the temporary file, runs `body` to fill it and publishes it at `path`.
    static func writeAtomically(to path: String, _ body: (inout GGUFFileSink) throws -> Void) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporaryDirectory = directory.isEmpty ? "/" : directory
        removeStaleTemporaries(in: temporaryDirectory, for: name)
        let temporary = "\(directory.isEmpty ? "" : directory)/.\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw failure(path, "cannot create temporary file \(temporary): \(errnoText())")
        }
        var sink = GGUFFileSink(fd: fd, path: path)
        do {
            try body(&sink)
            guard fsync(fd) == 0 else { throw failure(path, "fsync failed: \(errnoText())") }
            guard close(fd) == 0 else {
                unlink(temporary)
                throw failure(path, "close failed: \(errnoText())")
            }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let text = errnoText()
            unlink(temporary)
            throw failure(path, "rename from \(temporary) failed: \(text)")
        }
        // Persist the directory entry too; failure here is not fatal (some filesystems refuse
        // to open or fsync directories) since the data itself is already durable.
        let dirfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }

    /// Deletes `.NAME.PID.N.tmp` files in `directory` left by processes that no longer exist
    /// (`kill(pid, 0)` fails with ESRCH). A live process's temporary, or one whose pid was
    /// reused, is left alone: the cleanup must never race a concurrent writer.
    static func removeStaleTemporaries(in directory: String, for name: String) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        let prefix = ".\(name)."
        var stale: [String] = []
        while let entry = readdir(dir) {
            // Read the name in place, up to its NUL. Copying the `d_name` tuple would read all
            // 256 bytes, but glibc packs the records of a directory stream to each name's
            // length (`d_reclen`), so the tuple can run past the end of the buffer
            // (AddressSanitizer: heap-buffer-overflow). Darwin's dirent is fixed-size.
            let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let entryName = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            guard entryName.hasPrefix(prefix), entryName.hasSuffix(".tmp") else { continue }
            let middle = entryName.dropFirst(prefix.count).dropLast(4).split(separator: ".")
            guard middle.count == 2, let pid = Int32(middle[0]), pid > 0, UInt32(middle[1]) != nil,
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            stale.append(entryName)
        }
        for entryName in stale {
            unlink(directory + "/" + entryName)
        }
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = systemWrite(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw GGUFFileSink.failure(path, "write failed: \(GGUFFileSink.errnoText())")
                }
                done += n
            }
        }
    }

    /// Writes `count` zero bytes (alignment padding).
    mutating func writeZeros(_ count: Int) throws {
        var left = count
        while left > 0 {
            let chunk = min(left, zeros.count)
            try write(chunk == zeros.count ? zeros : Array(zeros[..<chunk]))
            left -= chunk
        }
    }

    private static func failure(_ path: String, _ reason: String) -> GGUFError {
        GGUFError(path: path, field: "file", offset: nil, reason: reason)
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// The C `write`, reachable under another name inside `GGUFFileSink.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
