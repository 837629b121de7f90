import Foundation

/// Wall time per kind of training op, for finding where a step goes (the training-speed
/// benchmark prints it). Off unless `LOOM_TRAIN_PROFILE=1`: then the callers on the
/// training thread time each op dispatch (the dispatch, not the work of each worker).
///
/// `LOOM_TRAIN_PROFILE_CLOCK=cpu` times the process's CPU time instead (all threads; see
/// ``now()``): on a machine shared with other jobs wall time mostly measures the wait for a
/// core, while CPU time still splits the step's work between the ops.
public enum TrainingProfile {
    /// Whether timing is on (read once).
    public static let enabled = ProcessInfo.processInfo.environment["LOOM_TRAIN_PROFILE"] == "1"
    /// Whether ``time(_:_:)`` and ``now()`` count process CPU time rather than wall time.
    public static let cpuClock = ProcessInfo.processInfo.environment["LOOM_TRAIN_PROFILE_CLOCK"] == "cpu"

    /// Nanoseconds on the profile's clock: wall time, or with ``cpuClock`` the CPU time of
    /// every thread of the process (the pool's workers included, and their brief spin after
    /// each job).
    public static func now() -> UInt64 {
        guard cpuClock else { return DispatchTime.now().uptimeNanoseconds }
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
    nonisolated(unsafe) private static var totals: [String: UInt64] = [:]
    private static let lock = NSLock()

    /// Runs `body`, adding its wall time to `label` when profiling is on.
    @inline(__always)
    static func time<R>(_ label: String, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let start = now()
        let result = body()
        let elapsed = now() - start
        lock.lock()
        totals[label, default: 0] += elapsed
        lock.unlock()
        return result
    }

    /// Seconds (of ``now()``'s clock) per label since the last ``reset()``, largest first.
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
