import ArgumentParser
import Foundation
import LoomHub

/// `loom show REF`: what `loom info` prints, then the model's files in the cache.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a model's details (as `info`) and its cached files.")

    @Argument(help: "hf:OWNER/REPO[:QUANT|/FILE.gguf][@REV], a catalog name or a path (default: smollm2).") var reference: String?
    @Flag(help: "Use only cached hub files (as HF_HUB_OFFLINE=1).") var offline = false

    func run() throws {
        ModelLocator.goOffline(offline)
        let path = try ModelLocator.resolve(reference)
        var out = try InfoCommand.report(path: path, verbose: false, contextLength: nil, parallel: 1)
        out += "files:\n"
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let base = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        let names = isDirectory.boolValue
            ? ((FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []).sorted()
            : [(path as NSString).lastPathComponent]
        for name in names {
            let full = base + "/" + name
            guard let size = HubCache.regularFileSize(full) else { continue }
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full)).map { " -> \($0)" } ?? ""
            out += "    \(name)  \(CachedModelSummary.size(size))\(target)\n"
        }
        StandardOutput.write(out)
    }
}
