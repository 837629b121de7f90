import Foundation

/// Raw file-descriptor writes shared by the pip fetcher (``ModelStore``) and the hub client.
enum FileWriting {
    /// Writes the whole buffer to `fd`, resuming after short writes and signals; a failure
    /// returns the system's reason (`strerror`), which each caller wraps in its own error.
    static func writeAll(_ fd: Int32, _ chunk: UnsafeRawBufferPointer) -> String? {
        guard var p = chunk.baseAddress else { return nil }
        var left = chunk.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            p += n
            left -= n
        }
        return nil
    }
}
