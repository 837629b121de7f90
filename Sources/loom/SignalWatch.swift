import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Delivers a signal to a handler on a dispatch queue instead of its default action, so the
/// handler may take locks, print and decide whether to exit (a C signal handler may do none
/// of these). The returned source must be kept alive for as long as the handler should run.
enum SignalWatch {
    static func install(_ signalNumber: Int32, handler: @escaping @Sendable () -> Void) -> DispatchSourceSignal {
        signal(signalNumber, SIG_IGN)  // the dispatch source sees the signal; the default action must not
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }
}
