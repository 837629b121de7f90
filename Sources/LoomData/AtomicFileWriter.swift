import Foundation

/// Writes a file through a temporary file in the same folder that is renamed over the
/// destination only by `commit()`, so a crash or an error never leaves a truncated output:
/// the old file (or none) stays until the new one is complete.
public final class AtomicFileWriter {
    /// The final path.
    public let path: String
    private let temporaryPath: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var committed = false
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    /// Creates the temporary file next to `path`.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError("the output folder \(folder) does not exist")
        }
        self.path = path
        self.temporaryPath = folder + "/." + url.lastPathComponent + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporaryPath) else {
            throw DataError("cannot create \(temporaryPath) (is \(folder) writable?)")
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        if !committed {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporaryPath)
        }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        bytesWritten += bytes.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Appends the UTF-8 bytes of a string.
    public func write(_ string: String) throws { try write(Array(string.utf8)) }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        do { try handle.write(contentsOf: buffer) } catch { throw DataError("cannot write \(temporaryPath): \(error)") }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and renames the temporary file over `path`.
    public func commit() throws {
        try flush()
        try? handle.synchronize()
        try handle.close()
        if rename(temporaryPath, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw DataError("cannot rename \(temporaryPath) to \(path): \(reason)")
        }
        committed = true
    }

    /// Writes `contents` to `path` atomically.
    public static func write(_ contents: String, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write(contents)
        try writer.commit()
    }
}
