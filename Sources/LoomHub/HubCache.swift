import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Hugging Face cache layout, as huggingface_hub's `file_download.py` writes it:
///
/// ```
/// <root>/models--OWNER--REPO/blobs/<etag>            file contents, named by SHA-256 (LFS) or git blob id
///                           /blobs/<etag>.incomplete  a download in progress (resumed with Range)
///                           /refs/<revision>          the commit a branch or tag pointed at
///                           /snapshots/<commit>/<path> relative symlink to ../../blobs/<etag>
/// <root>/.locks/models--OWNER--REPO/<etag>.lock       one process downloads a blob at a time
/// ```
public struct HubCache: Sendable {
    /// The cache root.
    public var root: String

    public init(root: String) {
        self.root = root
    }

    /// `models--OWNER--REPO` (huggingface_hub's `repo_folder_name`).
    public static func folderName(for repository: String) -> String {
        "models--" + repository.replacingOccurrences(of: "/", with: "--")
    }

    /// `OWNER/REPO` for a `models--OWNER--REPO` folder, nil for other folders.
    public static func repository(forFolder folder: String) -> String? {
        guard folder.hasPrefix("models--") else { return nil }
        let parts = folder.dropFirst("models--".count).components(separatedBy: "--")
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return parts.joined(separator: "/")
    }

    public func repositoryDirectory(_ repository: String) -> String { root + "/" + HubCache.folderName(for: repository) }
    public func blobPath(_ repository: String, etag: String) -> String { repositoryDirectory(repository) + "/blobs/" + etag }
    public func snapshotDirectory(_ repository: String, commit: String) -> String { repositoryDirectory(repository) + "/snapshots/" + commit }
    public func lockPath(_ repository: String, etag: String) -> String { root + "/.locks/" + HubCache.folderName(for: repository) + "/" + etag + ".lock" }
    func refPath(_ repository: String, revision: String) -> String { repositoryDirectory(repository) + "/refs/" + revision }

    /// True for a full 40-digit hex commit id (used as a revision, it needs no `refs` file).
    public static func isCommitHash(_ text: String) -> Bool {
        text.count == 40 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The commit `revision` resolves to from the cache alone, or nil.
    public func cachedCommit(_ repository: String, revision: String) -> String? {
        if HubCache.isCommitHash(revision) {
            return FileManager.default.fileExists(atPath: snapshotDirectory(repository, commit: revision)) ? revision : nil
        }
        guard let text = try? String(contentsOfFile: refPath(repository, revision: revision), encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    /// Records that `revision` points at `commit` (skipped when the revision is the commit).
    public func writeRef(_ repository: String, revision: String, commit: String) throws {
        guard revision != commit else { return }
        let path = refPath(repository, revision: revision)
        try HubCache.createDirectory((path as NSString).deletingLastPathComponent)
        do {
            try commit.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw HubError.io(path: path, message: "cannot record the revision: \(error.localizedDescription)")
        }
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink, as
    /// huggingface_hub does (so the cache can be moved), replacing an older link.
    public func link(_ repository: String, commit: String, file: String, etag: String) throws {
        let path = snapshotDirectory(repository, commit: commit) + "/" + file
        try HubCache.createDirectory((path as NSString).deletingLastPathComponent)
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: path), existing == target { return }
        unlink(path)
        guard symlink(target, path) == 0 else {
            throw HubError.io(path: path, message: "cannot link the snapshot file to its blob: \(String(cString: strerror(errno)))")
        }
    }

    /// Every file of a snapshot: path inside the repository and size (links followed).
    public func snapshotFiles(_ repository: String, commit: String) -> [(path: String, size: Int64)] {
        let base = snapshotDirectory(repository, commit: commit)
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var files: [(String, Int64)] = []
        while let relative = walker.nextObject() as? String {
            if let size = HubCache.regularFileSize(base + "/" + relative) { files.append((relative, size)) }
        }
        return files.sorted { $0.0 < $1.0 }
    }

    /// The cached repositories (`models--*` folders), sorted by name.
    public func repositories() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.compactMap(HubCache.repository(forFolder:)).sorted()
    }

    /// Commits with a snapshot folder, newest first (by the folder's modification time).
    public func snapshotCommits(_ repository: String) -> [String] {
        let base = repositoryDirectory(repository) + "/snapshots"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return names.sorted { (HubCache.modificationTime(base + "/" + $0) ?? 0) > (HubCache.modificationTime(base + "/" + $1) ?? 0) }
    }

    /// Bytes held in the repository's blobs (complete ones; `.incomplete` files excluded).
    public func blobBytes(_ repository: String) -> Int64 {
        let base = repositoryDirectory(repository) + "/blobs"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return names.filter { !$0.hasSuffix(".incomplete") }.reduce(0) { $0 + (HubCache.regularFileSize(base + "/" + $1) ?? 0) }
    }

    /// Deletes the whole repository folder and its locks.
    public func removeRepository(_ repository: String) throws {
        let path = repositoryDirectory(repository)
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw HubError.io(path: path, message: "cannot remove: \(error.localizedDescription)")
        }
        try? FileManager.default.removeItem(atPath: root + "/.locks/" + HubCache.folderName(for: repository))
    }

    /// Deletes one snapshot file and its blob unless another snapshot still links to it.
    public func removeFile(_ repository: String, commit: String, file: String) throws {
        let link = snapshotDirectory(repository, commit: commit) + "/" + file
        let blob = HubCache.linkTarget(link)
        guard unlink(link) == 0 else {
            throw HubError.io(path: link, message: "cannot remove: \(String(cString: strerror(errno)))")
        }
        // Only ever a file in this repository's blobs folder (never what a blob may link to).
        guard let blob, blob.hasPrefix(HubCache.lexical(repositoryDirectory(repository)) + "/blobs/") else { return }
        let stillUsed = snapshotCommits(repository).contains { commit in
            let base = snapshotDirectory(repository, commit: commit)
            guard let walker = FileManager.default.enumerator(atPath: base) else { return false }
            while let relative = walker.nextObject() as? String {
                if HubCache.linkTarget(base + "/" + relative) == blob { return true }
            }
            return false
        }
        if !stillUsed { unlink(blob) }
    }

    // MARK: - File helpers

    /// Where the symlink at `link` points, as a path with `.` and `..` removed lexically:
    /// symlinks along the way are NOT followed (a blob that is itself a link must be
    /// removed, not its target). Nil if `link` is not a symlink.
    static func linkTarget(_ link: String) -> String? {
        guard let destination = try? FileManager.default.destinationOfSymbolicLink(atPath: link) else { return nil }
        return lexical(destination.hasPrefix("/") ? destination : (link as NSString).deletingLastPathComponent + "/" + destination)
    }

    /// `path` without empty, `.` and `..` components, worked out on the text alone.
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw HubError.io(path: path, message: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Size of a regular file (following links), nil if missing or not a regular file.
    public static func regularFileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func modificationTime(_ path: String) -> Double? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970
    }
}
