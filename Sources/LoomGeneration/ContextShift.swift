/// llama.cpp's context shift (`--context-shift`, `--keep N`): when prompt plus answer fill the
/// context, the first ``keep`` tokens stay, the older half of the rest is dropped, and the
/// remaining keys are re-rotated in place (``LoomModels/InferenceSession/shiftContext(keep:discard:)``),
/// so generation goes on past the context without evaluating anything again. What was
/// dropped is forgotten: the model no longer sees it.
public struct ContextShift: Sendable, Equatable {
    /// Tokens at the start that are never dropped (a system prompt, say); −1 keeps the whole
    /// prompt, as llama.cpp's `--keep -1`.
    public var keep: Int

    public init(keep: Int = 0) { self.keep = keep }

    /// The kept tokens for a prompt of `promptCount` tokens in a `capacity` context: a
    /// whole prompt too long to leave two positions to drop is cut, as llama.cpp clamps
    /// `n_keep` (an explicit ``keep`` that large is refused by validation instead).
    public func keptTokens(promptCount: Int, capacity: Int) -> Int {
        max(0, min(keep < 0 ? promptCount : keep, capacity - 2))
    }

    /// Throws unless ``keep`` is −1 or leaves at least two positions of a `capacity` context to drop.
    func validate(capacity: Int) throws {
        guard keep >= -1 else { throw GenerationError.invalidParameter("--keep must be ≥ -1 (-1: the whole prompt), got \(keep)") }
        guard keep <= capacity - 2 else {
            throw GenerationError.invalidParameter(
                "--keep \(keep) leaves fewer than 2 of the \(capacity) positions for a context shift to drop; "
                    + "keep fewer tokens or raise --ctx")
        }
    }
}
