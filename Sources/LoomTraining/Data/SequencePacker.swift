/// Packs tokenised examples into sequences of at most `capacity` tokens (`--packing`).
///
/// The grouping is LLaMA-Factory's `greedy_knapsack` (`data/processor/processor_utils.py`):
/// lengths sorted ascending, then each pack repeatedly takes the longest example that still
/// fits. Unlike LLaMA-Factory's default packing, each sequence keeps per-token segment ids and
/// positions that restart at 0 for every example (what its `neat_packing` achieves), so the
/// trainer can keep attention and RoPE within an example; each segment's first label is
/// ignored so no example is trained to predict the next one's first token.
public enum SequencePacker {
    /// - Parameter sequences: unpacked sequences, each at most `capacity` long.
    /// - Returns: the packs, in the order they were filled.
    public static func pack(_ sequences: [TrainingSequence], capacity: Int) -> [TrainingSequence] {
        precondition(capacity >= 1)
        // (length, index) ascending; the index breaks ties so the result is deterministic.
        var remaining = sequences.indices.map { (sequences[$0].count, $0) }.sorted { $0 < $1 }
        var packs: [TrainingSequence] = []
        while !remaining.isEmpty {
            var members: [Int] = []
            var room = capacity
            while true {
                // bisect_right on the lengths for `room`, minus one: the longest that fits.
                var low = 0, high = remaining.count
                while low < high {
                    let mid = (low + high) / 2
                    if remaining[mid].0 <= room { low = mid + 1 } else { high = mid }
                }
                guard low > 0 else { break }
                let (length, index) = remaining.remove(at: low - 1)
                room -= length
                members.append(index)
            }
            if members.isEmpty {
                // Longer than the capacity (callers truncate first); kept alone rather than lost.
                members.append(remaining.removeFirst().1)
            }
            packs.append(concatenate(members.map { sequences[$0] }))
        }
        return packs
    }

    /// The segments one after another, segment ids 0, 1, … and positions restarting at 0.
    public static func concatenate(_ segments: [TrainingSequence]) -> TrainingSequence {
        var ids: [Int] = [], labels: [Int] = [], segmentIDs: [Int] = [], positions: [Int] = [], sources: [String] = []
        for (segment, sequence) in segments.enumerated() {
            ids += sequence.inputIDs
            var segmentLabels = sequence.labels
            if !segmentLabels.isEmpty { segmentLabels[0] = TrainingSequence.ignoreIndex }
            labels += segmentLabels
            segmentIDs += Array(repeating: segment, count: sequence.count)
            positions += Array(0..<sequence.count)
            sources += sequence.sources
        }
        return TrainingSequence(inputIDs: ids, labels: labels, segmentIDs: segmentIDs, positionIDs: positions, sources: sources)
    }
}
