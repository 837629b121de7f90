/// One sequence the trainer consumes: token ids, their labels, and the segments when several
/// examples are packed into it.
///
/// Labels follow the Hugging Face / LLaMA-Factory convention: `labels[i]` is the token id at
/// position i when position i is trained, ``ignoreIndex`` (-100) otherwise, and the trainer
/// shifts them — the logits at position i − 1 predict `labels[i]`. So a label never crosses
/// a segment boundary: the first position of a segment is never a target of the previous one's
/// last position (the packer makes every segment's first label ``ignoreIndex``).
public struct TrainingSequence: Sendable, Equatable {
    /// The label of an untrained position (PyTorch's `CrossEntropyLoss(ignore_index=-100)`).
    public static let ignoreIndex = -100

    /// Token ids.
    public var inputIDs: [Int]
    /// The target at each position, or ``ignoreIndex``.
    public var labels: [Int]
    /// Which packed example each position belongs to (0, 1, …; all 0 when not packed).
    /// Attention must stay within a segment.
    public var segmentIDs: [Int]
    /// Positions for RoPE, restarting at 0 with each segment.
    public var positionIDs: [Int]
    /// The examples in it (`FILE: line N`), one per segment.
    public var sources: [String]

    public init(inputIDs: [Int], labels: [Int], segmentIDs: [Int]? = nil, positionIDs: [Int]? = nil, sources: [String]) {
        self.inputIDs = inputIDs
        self.labels = labels
        self.segmentIDs = segmentIDs ?? Array(repeating: 0, count: inputIDs.count)
        self.positionIDs = positionIDs ?? Array(0..<inputIDs.count)
        self.sources = sources
    }

    /// Length in tokens.
    public var count: Int { inputIDs.count }

    /// Positions whose label is trained.
    public var trainedTokenCount: Int { labels.lazy.filter { $0 != Self.ignoreIndex }.count }
}
