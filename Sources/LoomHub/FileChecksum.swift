import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 of files on disk, as the lower-case hex the catalog records.
///
/// The hashing itself is swift-crypto's `SHA256` (BoringSSL's assembly on Linux, CryptoKit on
/// Apple platforms); this helper only streams a file through it in fixed-size chunks, so
/// memory stays flat for a 500 MB model, and reports progress after each chunk.
///
/// ```swift
/// let hex = try FileChecksum.sha256(ofFile: "/path/model.gguf") { done in print(done) }
/// ```
public enum FileChecksum {
    /// Bytes read and hashed per step (and between progress reports).
    public static let defaultChunkBytes = 8 << 20

    /// The lower-case hex SHA-256 of the regular file at `path`. `onProgress` (if given)
    /// receives the bytes hashed so far after each chunk. Missing or unreadable files and
    /// non-regular files throw `ModelStoreError.io` naming the path.
    public static func sha256(
        ofFile path: String, chunkBytes: Int = defaultChunkBytes, onProgress: ((Int64) -> Void)? = nil
    ) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ModelStoreError.io(path: path, message: "cannot open for hashing: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelStoreError.io(path: path, message: "cannot stat for hashing: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelStoreError.io(path: path, message: "not a regular file, cannot hash it")
        }
        #if os(Linux)
        // One sequential pass: let the kernel read ahead generously.
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(4096, chunkBytes), alignment: 4096)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelStoreError.io(path: path, message: "cannot read for hashing: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            done += Int64(n)
            onProgress?(done)
        }
        return hasher.finalize().hex
    }
}

extension Digest {
    /// The digest as lower-case hex, the form `sha256sum` and the catalog use.
    public var hex: String {
        var text = ""
        text.reserveCapacity(Self.byteCount * 2)
        for byte in self {
            text.append(FileChecksum.hexDigits[Int(byte >> 4)])
            text.append(FileChecksum.hexDigits[Int(byte & 15)])
        }
        return text
    }
}

extension FileChecksum {
    fileprivate static let hexDigits = Array("0123456789abcdef")
}
