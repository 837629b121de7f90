import Foundation

/// Sums the progress of files downloaded at once into one `FetchProgress` byte count, so the
/// terminal shows a single bar (with speed and ETA) for a sharded checkpoint.
final class HubProgressMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var done: [String: Int64] = [:]
    private let label: String
    private let total: Int64
    private let progress: FetchProgress

    init(label: String, total: Int64, progress: FetchProgress) {
        self.label = label
        self.total = total
        self.progress = progress
    }

    /// `file` now has `bytes` on disk.
    func update(_ file: String, _ bytes: Int64) {
        lock.lock()
        done[file] = bytes
        let sum = done.values.reduce(0, +)
        lock.unlock()
        progress.report(.bytes(label: label, completed: sum, total: total > 0 ? total : nil))
    }
}
