#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an input was rejected, printed only when `LOOM_FUZZ_VERBOSE=1`: run a harness on a
/// seed (`scripts/fuzz.sh NAME check`) to see that the seeds get past the first checks.
public enum FuzzLog {
    private static let enabled = getenv("LOOM_FUZZ_VERBOSE").map { String(cString: $0) == "1" } ?? false

    /// Runs `body`; a thrown error is logged (when enabled) and turned into nil.
    public static func attempt<T>(_ what: String, _ body: () throws -> T) -> T? {
        do {
            let value = try body()
            if enabled { print("\(what): ok") }
            return value
        } catch {
            if enabled { print("\(what): \(error)") }
            return nil
        }
    }
}

/// Keeps the optimizer from deleting reads whose only purpose is to touch memory (so that
/// ASan or a fault reports an out-of-range extent).
@inline(never)
public func fuzzConsume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// A harness's own assertion. Unlike `precondition`, which drops its message in optimized
/// builds, it says what failed, so the finding explains itself.
public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
