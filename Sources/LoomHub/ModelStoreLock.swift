#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on a lock file, held while one model is fetched.
///
/// Two loom processes (or two threads: each lock opens its own file description) resolving
/// the same model at once would otherwise write the same `.partial` file. The kernel drops
/// the lock when the holder exits, even on a crash, so a stale lock cannot block later runs.
final class ModelStoreLock {
    private var fd: Int32

    /// Blocks until the lock at `path` is held; `onWait` runs once if another holder makes
    /// us wait, so the user learns why nothing happens.
    init(path: String, onWait: () -> Void) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ModelStoreError.io(path: path, message: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
        guard errno == EWOULDBLOCK else { throw failure(path) }
        onWait()
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw failure(path) }
        }
    }

    /// Takes the lock at `path` if it is free; nil when another holder has it. For async
    /// callers, which poll rather than block a shared thread.
    init?(tryingPath path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ModelStoreError.io(path: path, message: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
        guard errno == EWOULDBLOCK else { throw failure(path) }
        close(fd)
        fd = -1
        return nil
    }

    private func failure(_ path: String) -> ModelStoreError {
        let message = String(cString: strerror(errno))
        close(fd)
        fd = -1
        return ModelStoreError.io(path: path, message: "cannot lock: \(message)")
    }

    /// Releases the lock (closing the descriptor releases the flock).
    func unlock() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }

    deinit { unlock() }
}
