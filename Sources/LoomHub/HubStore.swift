import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns `hf:` references into local paths: lists the repository, picks the files (one GGUF,
/// or a safetensors model / PEFT adapter directory), downloads what the cache lacks — several
/// files at once, resumable, SHA-256-verified, one process per file — and links them into the
/// HF cache's snapshot folder.
///
/// ```swift
/// let store = HubStore(configuration: .fromEnvironment())
/// let gguf = try store.resolve(try HubReference.parse("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0"))
/// ```
///
/// A GGUF reference resolves to the file (`snapshots/<commit>/<file>`), a repository to the
/// snapshot folder. A download is written to `blobs/<etag>.incomplete` and renamed to its
/// final name only once complete and verified, so a crash or a full disk never leaves a
/// partial file where a model is expected.
public struct HubStore: Sendable {
    public var configuration: HubConfiguration

    public init(configuration: HubConfiguration = .fromEnvironment()) {
        self.configuration = configuration
    }

    public var cache: HubCache { HubCache(root: configuration.cacheDirectory) }

    /// Blocking form of `resolve(_:progress:)` for synchronous callers (the CLI, `ModelStore`).
    /// Must not be called from a Swift concurrency task (it waits on a semaphore).
    public func resolve(_ reference: HubReference, progress: FetchProgress = .terminal) throws -> String {
        try HubStore.blocking { try await self.resolvedPath(for: reference, progress: progress) }
    }

    /// The local path for `reference`, downloading what the cache lacks (unless offline).
    public func resolvedPath(for reference: HubReference, progress: FetchProgress) async throws -> String {
        let path: String
        if configuration.offline {
            path = try offlinePath(reference)
        } else {
            let client = HubClient(configuration: configuration)
            do {
                path = try await fetch(reference, client: client, progress: progress)
                await client.shutdown()
            } catch {
                await client.shutdown()
                // Like huggingface_hub: an unreachable hub is no reason to refuse a cached model.
                guard let hubError = error as? HubError, hubError.isTransient, let cached = try? offlinePath(reference) else { throw error }
                progress.report(.phase("\((error as? HubError)?.shortReason ?? "\(error)"); using the cached copy of \(reference)"))
                path = cached
            }
        }
        markUsed(reference.repository)
        return path
    }

    // MARK: - Choosing files

    /// The files `reference` needs from a repository holding `files`, and the one to return
    /// (nil: the snapshot folder). Rules follow llama.cpp's `-hf`: a QUANT picks the GGUF whose
    /// name contains it (any case); without one, the only GGUF, else the Q4_K_M one.
    public static func select(_ files: [HubRemoteFile], for reference: HubReference) throws -> (files: [HubRemoteFile], primary: String?) {
        let gguf = files.filter(\.isGGUFModel)
        let ggufNames = gguf.map(\.path)
        if let file = reference.file {
            guard let match = files.first(where: { $0.path == file }) else {
                throw HubError.fileNotInRepository(repository: reference.repository, file: file, ggufFiles: ggufNames)
            }
            return ([match], match.path)
        }
        if let quant = reference.quant?.lowercased() {
            let matches = gguf.filter { $0.name.lowercased().contains(quant) }
            guard !matches.isEmpty else { throw HubError.noMatchingQuant(repository: reference.repository, quant: reference.quant!, ggufFiles: ggufNames) }
            guard matches.count == 1 else { throw HubError.ambiguousGGUF(repository: reference.repository, candidates: matches.map(\.path)) }
            return (matches, matches[0].path)
        }
        if gguf.count == 1 { return (gguf, gguf[0].path) }
        if gguf.count > 1 {
            let preferred = gguf.filter { $0.name.lowercased().contains("q4_k_m") }
            guard preferred.count == 1 else { throw HubError.ambiguousGGUF(repository: reference.repository, candidates: ggufNames) }
            return (preferred, preferred[0].path)
        }
        // A safetensors model or PEFT adapter: its top-level configs, tokenizer and weights.
        let wanted: Set<String> = ["json", "safetensors", "txt", "jinja", "model", "tiktoken"]
        let directory = files.filter { file in
            !file.path.contains("/") && !file.name.hasPrefix(".")
                && wanted.contains((file.name as NSString).pathExtension.lowercased())
        }
        guard directory.contains(where: { $0.name.hasSuffix(".safetensors") }) else {
            throw HubError.nothingToFetch(repository: reference.repository, files: files.map(\.path))
        }
        return (directory, nil)
    }

    // MARK: - Online

    private func fetch(_ reference: HubReference, client: HubClient, progress: FetchProgress) async throws -> String {
        let repo = reference.repository
        progress.report(.phase("Listing \(repo)@\(reference.revision) on \(configuration.endpoint)…"))
        // With a cached snapshot to fall back on, one try: an unreachable hub should not hold up a cached model.
        let cached = (try? offlinePath(reference)) != nil
        let listing = try await client.listing(repository: repo, revision: reference.revision, attempts: cached ? 1 : nil, notices: progress)
        let (files, primary) = try HubStore.select(listing.files, for: reference)
        try cache.writeRef(repo, revision: reference.revision, commit: listing.commit)

        let missing = files.filter { !isCached($0, repository: repo) }
        if !missing.isEmpty {
            let total = missing.reduce(Int64(0)) { $0 + ($1.size ?? 0) }
            progress.report(.phase("Downloading \(missing.count) file\(missing.count == 1 ? "" : "s") of \(repo) (\(ModelStore.sizeText(total)))…"))
            let meter = HubProgressMeter(label: "Downloading \(reference.file ?? primary ?? repo)", total: total, progress: progress)
            let commit = listing.commit
            try await withThrowingTaskGroup(of: Void.self) { group in
                var queued = missing[...]
                // At most `concurrentDownloads` files in flight; the next starts as one ends.
                for _ in 0..<max(1, configuration.concurrentDownloads) {
                    guard let file = queued.popFirst() else { break }
                    group.addTask { try await self.download(file, repository: repo, commit: commit, client: client, meter: meter, progress: progress) }
                }
                while try await group.next() != nil {
                    guard let file = queued.popFirst() else { continue }
                    group.addTask { try await self.download(file, repository: repo, commit: commit, client: client, meter: meter, progress: progress) }
                }
            }
        }
        for file in files {
            try cache.link(repo, commit: listing.commit, file: file.path, etag: HubStore.etag(of: file))
        }
        let snapshot = cache.snapshotDirectory(repo, commit: listing.commit)
        let path = primary.map { snapshot + "/" + $0 } ?? snapshot
        progress.report(.phase("Cached at \(path)"))
        return path
    }

    /// True when the file's blob is present with the listed size. Blobs only ever appear
    /// under their final name after their hash was checked, so the size suffices here.
    private func isCached(_ file: HubRemoteFile, repository: String) -> Bool {
        guard let size = HubCache.regularFileSize(cache.blobPath(repository, etag: HubStore.etag(of: file))) else { return false }
        return file.size.map { $0 == size } ?? true
    }

    /// The blob name: the LFS SHA-256, else the git blob id, else a name from the path.
    static func etag(of file: HubRemoteFile) -> String {
        file.sha256 ?? file.blobID ?? "path-" + file.path.replacingOccurrences(of: "/", with: "--")
    }

    /// Downloads one file into its blob under the per-blob lock, verifying size and hash.
    private func download(_ file: HubRemoteFile, repository: String, commit: String, client: HubClient,
                          meter: HubProgressMeter, progress: FetchProgress) async throws {
        let etag = HubStore.etag(of: file)
        let blob = cache.blobPath(repository, etag: etag)
        let lockPath = cache.lockPath(repository, etag: etag)
        try HubCache.createDirectory((blob as NSString).deletingLastPathComponent)
        try HubCache.createDirectory((lockPath as NSString).deletingLastPathComponent)
        var lock = try ModelStoreLock(tryingPath: lockPath)
        if lock == nil { progress.report(.phase("Waiting for another process downloading \(file.path)…")) }
        while lock == nil {
            try await Task.sleep(nanoseconds: 200_000_000)
            lock = try ModelStoreLock(tryingPath: lockPath)
        }
        defer { lock?.unlock() }
        // Whoever held the lock before us may have just finished it.
        if isCached(file, repository: repository) { meter.update(file.path, file.size ?? 0); return }

        let incomplete = blob + ".incomplete"
        let headers = try await client.download(repository: repository, commit: commit, file: file, to: incomplete, notices: progress) { done in
            meter.update(file.path, done)
        }
        let actualSize = HubCache.regularFileSize(incomplete) ?? 0
        if let size = file.size, actualSize != size {
            unlink(incomplete)
            throw HubError.sizeMismatch(file: file.path, expected: size, actual: actualSize)
        }
        let headerSHA = headers.etag.flatMap { HubClient.isSHA256($0) ? $0 : nil }
        if let expected = file.sha256 ?? headerSHA {
            let digest = try FileChecksum.sha256(ofFile: incomplete)
            guard digest == expected else {
                unlink(incomplete)
                throw HubError.checksumMismatch(file: file.path, expected: expected, actual: digest)
            }
        }
        guard rename(incomplete, blob) == 0 else {
            throw HubError.io(path: blob, message: "cannot move the verified download into place: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Offline

    /// The cached path for `reference` without the network; throws `offlineMissing` naming
    /// what is absent.
    public func offlinePath(_ reference: HubReference) throws -> String {
        let repo = reference.repository
        guard let commit = cache.cachedCommit(repo, revision: reference.revision) else {
            throw HubError.offlineMissing(reference: reference.description,
                                          missing: "no snapshot of revision '\(reference.revision)' under \(cache.repositoryDirectory(repo))")
        }
        let snapshot = cache.snapshotDirectory(repo, commit: commit)
        let local = cache.snapshotFiles(repo, commit: commit).map { HubRemoteFile(path: $0.path, size: $0.size, sha256: nil, blobID: nil) }
        if let file = reference.file {
            guard local.contains(where: { $0.path == file }) else {
                throw HubError.offlineMissing(reference: reference.description, missing: "\(file) is not in \(snapshot)")
            }
            return snapshot + "/" + file
        }
        let (_, primary): ([HubRemoteFile], String?)
        do {
            (_, primary) = try HubStore.select(local, for: reference)
        } catch let error as HubError {
            if case .ambiguousGGUF = error { throw error }
            throw HubError.offlineMissing(reference: reference.description, missing: "the cached snapshot \(snapshot) has no matching files (\(error))")
        }
        if primary == nil, !local.contains(where: { $0.path == "config.json" || $0.path == "adapter_config.json" }) {
            throw HubError.offlineMissing(reference: reference.description, missing: "\(snapshot) has neither config.json nor adapter_config.json")
        }
        return primary.map { snapshot + "/" + $0 } ?? snapshot
    }

    // MARK: - Last use

    /// Records now as the repository's last use (`loom list`); failures are ignored.
    public func markUsed(_ repository: String) {
        try? FileManager.default.createDirectory(atPath: configuration.usageDirectory, withIntermediateDirectories: true)
        try? "\(Date().timeIntervalSince1970)\n".write(toFile: usagePath(repository), atomically: true, encoding: .utf8)
    }

    /// When Loom last resolved the repository, if it ever did.
    public func lastUsed(_ repository: String) -> Date? {
        HubCache.modificationTime(usagePath(repository)).map(Date.init(timeIntervalSince1970:))
    }

    private func usagePath(_ repository: String) -> String {
        configuration.usageDirectory + "/" + HubCache.folderName(for: repository)
    }

    // MARK: - Bridge

    /// Runs `body` on the concurrency pool and waits for it on this (non-pool) thread.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

/// Hands a task's result to the thread waiting for it (the semaphore orders the accesses).
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
