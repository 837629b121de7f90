import Foundation
import LoomHub

/// Where every command turns a model or adapter argument into a local path: catalog names,
/// paths and `hf:` references (`ModelReference`), with progress on standard error.
enum ModelLocator {
    /// `--offline`: from here on this process uses only cached hub files, exactly as if it had
    /// been started with `HF_HUB_OFFLINE=1` (so adapters and every later lookup agree).
    static func goOffline(_ offline: Bool) {
        if offline { setenv("HF_HUB_OFFLINE", "1", 1) }
    }

    /// A model store reading the current environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HOME).
    static func store() -> ModelStore { ModelStore() }

    /// A model argument (nil: the default model) as a local path, fetched if needed.
    static func resolve(_ argument: String?) throws -> String {
        try store().resolve(argument, progress: .terminal)
    }

    /// An adapter argument: `hf:` references are fetched (or found in the cache); anything
    /// else is a path and is returned unchanged, so the adapter loader names a missing file.
    static func adapterPath(_ argument: String) throws -> String {
        guard argument.hasPrefix(ModelReference.hubPrefix) else { return argument }
        return try store().resolve(argument, progress: .terminal)
    }
}
