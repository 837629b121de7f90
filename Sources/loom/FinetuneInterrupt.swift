import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT during `loom finetune`: the first Ctrl-C asks the run to stop after the current step
/// (and save a checkpoint); a second one exits at once.
final class FinetuneInterrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var source: DispatchSourceSignal?

    static func installed() -> FinetuneInterrupt {
        let flag = FinetuneInterrupt()
        flag.source = SignalWatch.install(SIGINT) { flag.fire() }
        return flag
    }

    private func fire() {
        let n: Int = lock.withLock { count += 1; return count }
        if n > 1 { exit(130) }
        StandardError.print("\ninterrupt: stopping after this step to save a checkpoint (Ctrl-C again to quit at once)")
    }

    var isSet: Bool { lock.withLock { count > 0 } }
}
