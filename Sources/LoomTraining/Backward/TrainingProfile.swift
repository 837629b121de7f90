import Foundation

/// Time per kind of training op, for finding where a step goes (the training-speed
/// benchmark prints it). Off unless `LOOM_TRAIN_PROFILE=1`: then the callers on the
/// training thread time each op dispatch (the dispatch, not the work of each worker).
///
/// Each op gets two clocks: wall time, and the CPU time of every thread of the process (the
/// pool's workers included, and their brief spin after each job). Their ratio is the op's
/// effective parallelism: an op at 1.0 on a two-core pool leaves a core idle, which wall time
/// alone cannot tell from slow code, and on a machine shared with other jobs wall time mostly
/// measures the wait for a core while CPU time still splits the step's work between the ops.
public enum TrainingProfile {
    /// Whether timing is on (read once).
    public static let enabled = ProcessInfo.processInfo.environment["LOOM_TRAIN_PROFILE"] == "1"

    /// One reading of both clocks, in nanoseconds.
    public struct Instant: Sendable {
        public let wall: UInt64
        public let cpu: UInt64

        /// Now: monotonic wall time and the process's CPU time (all threads).
        public static func now() -> Instant {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Instant(wall: DispatchTime.now().uptimeNanoseconds, cpu: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
        }

        /// Seconds of each clock since `start`.
        public func seconds(since start: Instant) -> (wall: Double, cpu: Double) {
            (Double(wall - start.wall) / 1e9, Double(cpu - start.cpu) / 1e9)
        }
    }

    /// Wall and CPU seconds of one label.
    public struct Entry: Sendable {
        public let label: String
        public let wall: Double
        public let cpu: Double
    }

    nonisolated(unsafe) private static var totals: [String: (wall: UInt64, cpu: UInt64)] = [:]
    private static let lock = NSLock()

    /// Runs `body`, adding its wall and CPU time to `label` when profiling is on.
    @inline(__always)
    static func time<R>(_ label: String, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let start = Instant.now()
        let result = body()
        let end = Instant.now()
        lock.lock()
        let old = totals[label] ?? (0, 0)
        totals[label] = (old.wall + end.wall - start.wall, old.cpu + end.cpu - start.cpu)
        lock.unlock()
        return result
    }

    /// Seconds per label since the last ``reset()``, largest wall time first.
    public static var report: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return totals.map { Entry(label: $0.key, wall: Double($0.value.wall) / 1e9, cpu: Double($0.value.cpu) / 1e9) }
            .sorted { $0.wall > $1.wall }
    }

    /// Clears the totals.
    public static func reset() {
        lock.lock()
        totals = [:]
        lock.unlock()
    }
}
