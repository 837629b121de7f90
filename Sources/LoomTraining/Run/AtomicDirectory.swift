import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a directory so that a crash (even `kill -9` or a power cut) leaves either the
/// previous complete directory or the new complete one, never a mix: everything is written
/// into a temporary sibling, every file and the directory are `fsync`ed, and the directory is
/// renamed into place (rename(2) is atomic within a file system), then the parent is synced.
enum AtomicDirectory {
    /// Fills a fresh temporary directory with `fill`, then moves it to `path` (replacing an
    /// existing directory there).
    /// - Throws: ``FineTuneRunError/saveFailed(path:reason:)``; the temporary directory is
    ///   removed and an existing `path` is left as it was.
    static func write(to path: String, _ fill: (String) throws -> Void) throws {
        let fm = FileManager.default
        let parent = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (parent as NSString).appendingPathComponent(".\(name).tmp-\(getpid())")
        func fail(_ reason: String) -> FineTuneRunError { .saveFailed(path: path, reason: reason) }
        do {
            try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
            try? fm.removeItem(atPath: temporary)
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        } catch {
            throw fail(error.localizedDescription)
        }
        do {
            try fill(temporary)
            for file in try fm.contentsOfDirectory(atPath: temporary) {
                try sync((temporary as NSString).appendingPathComponent(file))
            }
            try sync(temporary)
            var old: String?
            if fm.fileExists(atPath: path) {
                old = (parent as NSString).appendingPathComponent(".\(name).old-\(getpid())")
                try? fm.removeItem(atPath: old!)
                guard rename(path, old!) == 0 else { throw fail("cannot move the previous \(name) aside: \(String(cString: strerror(errno)))") }
            }
            guard rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                if let old { _ = rename(old, path) }
                throw fail("cannot rename the new directory into place: \(reason)")
            }
            try sync(parent)
            if let old { try? fm.removeItem(atPath: old) }
        } catch {
            try? fm.removeItem(atPath: temporary)
            if let error = error as? FineTuneRunError { throw error }
            throw fail("\(error)")
        }
    }

    /// Writes `data` to a new file at `path`.
    static func writeFile(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw FineTuneRunError.saveFailed(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        do {
            try FileHandle(fileDescriptor: fd, closeOnDealloc: false).write(contentsOf: data)
        } catch {
            throw FineTuneRunError.saveFailed(path: path, reason: error.localizedDescription)
        }
    }

    /// `fsync` of a file or directory.
    static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FineTuneRunError.saveFailed(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FineTuneRunError.saveFailed(path: path, reason: "fsync: \(String(cString: strerror(errno)))") }
    }
}
