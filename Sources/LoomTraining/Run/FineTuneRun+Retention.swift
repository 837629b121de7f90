import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which checkpoints a ``FineTuneRun`` keeps, and what a killed run left behind.
///
/// ``AtomicDirectory`` writes `checkpoint-N` through hidden siblings: `.checkpoint-N.tmp-PID`
/// (the save in progress) and, when a checkpoint of the same step is replaced,
/// `.checkpoint-N.old-PID` (the previous copy, between the two renames). Removal renames
/// `checkpoint-N` to `.checkpoint-N.removing-PID` first. So after a `kill -9` at any moment
/// every visible `checkpoint-N` is complete, and ``recoverCheckpoints(in:)`` tidies the rest.
extension FineTuneRun {
    /// The `checkpoint-N` directories in `directory` holding a trainer state, oldest first.
    public static func savedCheckpoints(in directory: String) -> [(step: Int, path: String)] {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: directory) else { return [] }
        return entries.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let path = (directory as NSString).appendingPathComponent(name)
            guard fm.fileExists(atPath: (path as NSString).appendingPathComponent(stateName)) else { return nil }
            return (step, path)
        }.sorted { $0.0 < $1.0 }
    }

    /// Removes the oldest checkpoints in `directory` so that at most `limit` remain
    /// (transformers' `save_total_limit`); the newest is never removed.
    /// - Throws: ``FineTuneRunError/saveFailed(path:reason:)`` when one cannot be removed.
    public static func pruneCheckpoints(in directory: String, keeping limit: Int) throws {
        let saved = savedCheckpoints(in: directory)
        guard limit >= 1, saved.count > limit else { return }
        for (step, path) in saved.dropLast(limit) {
            // Out of sight first, so a crash half-way through the removal cannot leave a
            // damaged checkpoint-N that looks like one.
            let hidden = (directory as NSString).appendingPathComponent(".checkpoint-\(step).removing-\(getpid())")
            guard rename(path, hidden) == 0 else {
                throw FineTuneRunError.saveFailed(path: path, reason: "cannot remove an old checkpoint (--save-total-limit): \(String(cString: strerror(errno)))")
            }
            try? FileManager.default.removeItem(atPath: hidden)
        }
    }

    /// Tidies what an interrupted run left in `directory`: an unfinished save
    /// (`.checkpoint-N.tmp-PID`) and a half-done removal are deleted; a previous copy moved
    /// aside for a replacement (`.checkpoint-N.old-PID`) is put back when `checkpoint-N` is
    /// missing. Entries of a process that is still running are left alone.
    public static func recoverCheckpoints(in directory: String) {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: directory) else { return }
        for name in entries where name.hasPrefix(".checkpoint-") {
            guard let marker = [".tmp-", ".old-", ".removing-"].first(where: { name.contains($0) }),
                  let range = name.range(of: marker, options: .backwards),
                  let pid = Int32(name[range.upperBound...]) else { continue }
            if pid != getpid(), kill(pid, 0) == 0 || errno == EPERM { continue }  // a live writer
            let path = (directory as NSString).appendingPathComponent(name)
            let original = (directory as NSString).appendingPathComponent(String(name[name.index(after: name.startIndex)..<range.lowerBound]))
            if marker == ".old-", !fm.fileExists(atPath: original),
               fm.fileExists(atPath: (path as NSString).appendingPathComponent(stateName)), rename(path, original) == 0 {
                continue
            }
            try? fm.removeItem(atPath: path)
        }
    }
}
