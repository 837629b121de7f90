/// How a conversation longer than the cutoff length is shortened.
public enum SequenceTruncation: String, Sendable, CaseIterable {
    /// LLaMA-Factory's supervised truncation (`data/processor/supervised.py` with
    /// `processor_utils.infer_seqlen`): the conversation is cut into (prompt, response) pairs,
    /// one per assistant turn; pairs are taken in order while room remains, and each pair's
    /// prompt and response are shortened in proportion to the room left. Loom and a run
    /// handed to LLaMA-Factory then train on the same tokens with the same masks.
    case perTurn
    /// Keep the first `cutoff` tokens.
    case keepStart

    /// `sequence` (with its assistant `targets`, as ``ConversationTokenizer/tokenizeWithTargets(_:)``
    /// returns them) cut to at most `cutoff` tokens.
    public func apply(_ sequence: TrainingSequence, targets: [Range<Int>], cutoff: Int) -> TrainingSequence {
        guard sequence.count > cutoff else { return sequence }
        switch self {
        case .keepStart:
            return TrainingSequence(inputIDs: Array(sequence.inputIDs.prefix(cutoff)),
                                    labels: Array(sequence.labels.prefix(cutoff)), sources: sequence.sources)
        case .perTurn:
            // Pairs: the tokens before each target (its prompt) and the target; tokens after the
            // last target (an unanswered user turn) form a last pair with no response.
            var pairs: [(source: Range<Int>, target: Range<Int>)] = []
            var previous = 0
            for target in targets {
                pairs.append((previous..<target.lowerBound, target))
                previous = target.upperBound
            }
            if previous < sequence.count { pairs.append((previous..<sequence.count, sequence.count..<sequence.count)) }
            var ids: [Int] = [], labels: [Int] = []
            var total = 0
            for pair in pairs {
                if total >= cutoff { break }
                let (sourceLength, targetLength) = Self.inferSeqlen(pair.source.count, pair.target.count, cutoff - total)
                let source = pair.source.prefix(sourceLength), target = pair.target.prefix(targetLength)
                ids += sequence.inputIDs[source] + sequence.inputIDs[target]
                labels += Array(repeating: TrainingSequence.ignoreIndex, count: source.count) + sequence.labels[target]
                total += sourceLength + targetLength
            }
            return TrainingSequence(inputIDs: ids, labels: labels, sources: sequence.sources)
        }
    }

    /// LLaMA-Factory's `infer_seqlen`: the lengths a (prompt, response) pair keeps in `cutoff`.
    static func inferSeqlen(_ sourceLength: Int, _ targetLength: Int, _ cutoff: Int) -> (Int, Int) {
        let maxTarget: Int
        if targetLength * 2 < cutoff {
            maxTarget = cutoff  // only the prompt is cut
        } else if sourceLength * 2 < cutoff {
            maxTarget = cutoff - sourceLength  // only the response is cut
        } else {
            // Both, in proportion (Python's int() truncates toward zero, as Int() does).
            maxTarget = Int(Double(cutoff) * (Double(targetLength) / Double(sourceLength + targetLength)))
        }
        let newTarget = min(maxTarget, targetLength)
        let newSource = min(max(cutoff - newTarget, 0), sourceLength)
        return (newSource, newTarget)
    }
}
