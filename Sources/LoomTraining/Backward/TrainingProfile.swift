import Foundation

/// Wall time per kind of training op, for finding where a step goes (the training-speed
/// benchmark prints it). Off unless `LOOM_TRAIN_PROFILE=1`: then the callers on the
/// training thread time each op dispatch (the dispatch, not the work of each worker).
public enum TrainingProfile {
    /// Whether timing is on (read once).
    public static let enabled = ProcessInfo.processInfo.environment["LOOM_TRAIN_PROFILE"] == "1"
    nonisolated(unsafe) private static var totals: [String: UInt64] = [:]
    private static let lock = NSLock()

    /// Runs `body`, adding its wall time to `label` when profiling is on.
    @inline(__always)
    static func time<R>(_ label: String, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        lock.lock()
        totals[label, default: 0] += elapsed
        lock.unlock()
        return result
    }

    /// Seconds per label since the last ``reset()``, largest first.
    public static var report: [(label: String, seconds: Double)] {
        lock.lock()
        defer { lock.unlock() }
        return totals.map { ($0.key, Double($0.value) / 1e9) }.sorted { $0.seconds > $1.seconds }
    }

    /// Clears the totals.
    public static func reset() {
        lock.lock()
        totals = [:]
        lock.unlock()
    }
}
