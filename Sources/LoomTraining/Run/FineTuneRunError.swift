/// Why a ``FineTuneRun`` stopped or could not save or resume.
public enum FineTuneRunError: Error, Equatable, CustomStringConvertible {
    /// The loss of optimiser step `step` (1-based) was NaN or infinite; the update was not
    /// applied. `lastCheckpoint` is the newest checkpoint saved before it (nil if none).
    case nonFiniteLoss(step: Int, loss: Double, lastCheckpoint: String?)
    /// A checkpoint was made by a run of another model, configuration or dataset; each entry
    /// of `differences` names one field as `name: checkpoint value ≠ this run's value`.
    case checkpointMismatch(path: String, differences: [String])
    /// A checkpoint directory that is missing files, truncated or not a checkpoint.
    case badCheckpoint(path: String, reason: String)
    /// Writing a checkpoint or the final adapter failed (e.g. a full disk); a checkpoint saved
    /// before is left intact.
    case saveFailed(path: String, reason: String)

    public static func == (a: FineTuneRunError, b: FineTuneRunError) -> Bool { a.description == b.description }

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, loss, checkpoint):
            return "the loss of step \(step) is \(loss.isNaN ? "NaN" : "\(loss)"); training stopped before that update"
                + (checkpoint.map { " (last good checkpoint: \($0))" } ?? " (no checkpoint was saved)")
        case let .checkpointMismatch(path, differences):
            return "cannot resume from \(path): it was made by another run (\(differences.joined(separator: "; ")))"
        case let .badCheckpoint(path, reason):
            return "\(path) is not a usable checkpoint: \(reason)"
        case let .saveFailed(path, reason):
            return "cannot save \(path): \(reason)"
        }
    }
}
