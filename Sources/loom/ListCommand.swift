import ArgumentParser
import Foundation
import LoomHub

/// `loom list`: the cached models (catalog models and hub repositories) with size,
/// quantisation, architecture and last use, like ollama's `list` and llama.cpp's `-cl`.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List cached models: name, size, quantisation, architecture, last used.")

    func run() throws {
        let store = ModelLocator.store()
        var rows: [[String]] = [["NAME", "SIZE", "QUANT", "ARCH", "LAST USED"]]
        for entry in store.catalog.entries {
            guard let path = store.cachedPath(for: entry.name) else { continue }
            let summary = CachedModelSummary(path: path)
            rows.append([entry.name, CachedModelSummary.size(entry.totalSize), summary.quant, summary.architecture,
                         CachedModelSummary.date(store.lastUsed(entry.name))])
        }
        let hub = store.hub
        for repository in hub.cache.repositories() {
            let lastUsed = CachedModelSummary.date(hub.lastUsed(repository))
            guard let commit = hub.cache.snapshotCommits(repository).first else { continue }
            let snapshot = hub.cache.snapshotDirectory(repository, commit: commit)
            let files = hub.cache.snapshotFiles(repository, commit: commit)
            let gguf = files.filter { $0.path.lowercased().hasSuffix(".gguf") && !$0.path.lowercased().contains("mmproj") }
            for file in gguf {
                let summary = CachedModelSummary(path: snapshot + "/" + file.path)
                rows.append(["hf:\(repository)/\(file.path)", CachedModelSummary.size(file.size), summary.quant, summary.architecture, lastUsed])
            }
            if gguf.isEmpty {
                let summary = CachedModelSummary(path: snapshot)
                rows.append(["hf:\(repository)", CachedModelSummary.size(hub.cache.blobBytes(repository)), summary.quant, summary.architecture, lastUsed])
            }
        }
        if rows.count == 1 {
            StandardError.print("no cached models (catalog cache \(store.modelsDirectory), hub cache \(hub.configuration.cacheDirectory))")
            return
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var out = ""
        for row in rows {
            out += row.enumerated().map { $0.offset == row.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset] + 2, withPad: " ", startingAt: 0) }
                .joined() + "\n"
        }
        StandardOutput.write(out)
    }
}
