import ArgumentParser
import Foundation
import LoomHub

/// `loom rm REF`: delete a cached model. `hf:OWNER/REPO` removes the whole repository folder;
/// `hf:OWNER/REPO:QUANT` or `…/FILE.gguf` removes that file (and its blob, once unused); a
/// catalog name removes its cached files.
struct RmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a cached model (hf: reference or catalog name) from the cache.")

    @Argument(help: "The model reference, as `loom list` shows it.") var reference: String

    func run() throws {
        let store = ModelLocator.store()
        guard case let .hub(ref) = try ModelReference.parse(reference) else {
            let removed = try store.remove(reference)
            guard !removed.isEmpty else { throw ValidationError("\(reference) is not cached") }
            removed.forEach { StandardError.print("removed \($0)") }
            return
        }
        let cache = store.hub.cache
        let directory = cache.repositoryDirectory(ref.repository)
        guard FileManager.default.fileExists(atPath: directory) else {
            throw ValidationError("\(ref.repository) is not cached (no \(directory))")
        }
        if ref.file == nil && ref.quant == nil {
            try cache.removeRepository(ref.repository)
            StandardError.print("removed \(directory)")
            return
        }
        // One GGUF: find it in every cached snapshot by the same rules as a download.
        var removed = 0
        for commit in cache.snapshotCommits(ref.repository) {
            let local = cache.snapshotFiles(ref.repository, commit: commit).map { HubRemoteFile(path: $0.path, size: $0.size, sha256: nil, blobID: nil) }
            guard let picked = try? HubStore.select(local, for: ref), let file = picked.primary else { continue }
            try cache.removeFile(ref.repository, commit: commit, file: file)
            StandardError.print("removed \(cache.snapshotDirectory(ref.repository, commit: commit))/\(file)")
            removed += 1
        }
        guard removed > 0 else { throw ValidationError("no cached file of \(ref.repository) matches \(reference)") }
    }
}
