/// Receives what the model store is doing while it fetches and verifies a model.
///
/// A value type around a handler closure, so callers pick a ready-made reporter
/// (`.terminal`, `.silent`) or pass their own (a GUI, a test collecting events).
///
/// ```swift
/// let path = try ModelStore().resolve("smollm2", progress: .terminal)
/// let quiet = try ModelStore().resolve("smollm2", progress: .silent)
/// let custom = FetchProgress { event in log(event) }
/// ```
public struct FetchProgress: Sendable {
    /// One thing worth telling the user.
    public enum Event: Sendable, Equatable {
        /// A new step begins, e.g. "Fetching SmolLM2-135M-Instruct (98 MB) via pip…",
        /// "Verifying sha256…", "Cached at /path".
        case phase(String)
        /// A line printed by pip, passed through unchanged.
        case toolOutput(String)
        /// Progress of a long step (`label` names it): `completed` of `total` bytes, where
        /// `total` is nil when not known in advance.
        case bytes(label: String, completed: Int64, total: Int64?)
    }

    private let handler: @Sendable (Event) -> Void

    /// A reporter that hands every event to `handler` (possibly from a background thread).
    public init(_ handler: @escaping @Sendable (Event) -> Void) {
        self.handler = handler
    }

    /// Delivers one event.
    public func report(_ event: Event) {
        handler(event)
    }

    /// Reports nothing; for tests and callers that print their own output.
    public static let silent = FetchProgress { _ in }

    /// Prints phases, pip's lines and byte progress to standard error. On a TTY the byte
    /// progress redraws one line; without one (CI, pipes) it prints a line per quarter, so
    /// logs stay short. Each use gets its own renderer state.
    public static var terminal: FetchProgress {
        let renderer = TerminalProgressRenderer()
        return FetchProgress { renderer.render($0) }
    }
}
