import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C handling for interactive commands: while an answer is being generated an
/// interrupt only sets this flag (the answer stops at the next token); otherwise it exits
/// the program as usual.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var generating = false
    private var interrupted = false
    private var source: DispatchSourceSignal?

    /// Installs the SIGINT handler and returns the flag it drives.
    static func installed() -> InterruptFlag {
        let flag = InterruptFlag()
        flag.source = SignalWatch.install(SIGINT) { flag.fire() }
        return flag
    }

    private func fire() {
        let stop: Bool = lock.withLock {
            if generating { interrupted = true; return false }
            return true
        }
        if stop {
            FileHandle.standardOutput.write(Data("\n".utf8))
            exit(130)
        }
    }

    var isSet: Bool { lock.withLock { interrupted } }

    /// Marks the start of an answer.
    func begin() { lock.withLock { generating = true; interrupted = false } }

    /// Marks its end; returns whether it was interrupted.
    func end() -> Bool { lock.withLock { generating = false; return interrupted } }
}
