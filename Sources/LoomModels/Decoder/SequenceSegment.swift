/// A run of consecutive tokens of one sequence ("slot"), starting at position `start` of that
/// slot's KV cache: the unit ``DecoderForward`` batches. A prompt chunk is one segment; a
/// server decode step is one single-token segment per busy slot.
public struct SequenceSegment: Sendable, Equatable {
    public var slot: Int
    public var start: Int
    public var tokens: [Int]
    /// Whether logits are wanted for every token (prompt scoring) or only the last one.
    public var allLogits: Bool

    public init(slot: Int, start: Int, tokens: [Int], allLogits: Bool = false) {
        self.slot = slot
        self.start = start
        self.tokens = tokens
        self.allLogits = allLogits
    }
}
