#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file this process rewrites with every input, for the loaders that only take a path
/// (`GGUFFile`, `SafetensorsFile` and `BPETokenizer(huggingFace:)` map or read real files).
///
/// It lives in `/dev/shm` when there is one (no disk writes at thousands of inputs per
/// second), in a directory of its own named after the process, and is removed at a normal
/// exit (libFuzzer ends with `_Exit`, so scripts/fuzz.sh removes those of ended runs).
public final class ScratchFile {
    /// The file's path.
    public let path: String
    /// The directory holding it (only this file is ever in it).
    public let directory: String

    /// Creates the directory for a file called `name` (e.g. `tokenizer.json`).
    public init(name: String) {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        directory = "\(base)/loom-fuzz-\(getpid())-\(name)"
        mkdir(directory, 0o700)
        path = directory + "/" + name
        let directory = directory, path = path
        atexitHandlers.append { unlink(path); rmdir(directory) }
        if atexitHandlers.count == 1 { atexit { for h in atexitHandlers { h() } } }
    }

    /// Replaces the file's contents with `bytes`.
    public func replace(with bytes: UnsafeRawBufferPointer) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot write \(path): errno \(errno)")
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(n > 0, "cannot write \(path): errno \(errno)")
            done += n
        }
        close(fd)
    }
}

nonisolated(unsafe) private var atexitHandlers: [() -> Void] = []
