/// A run of consecutive tokens of one sequence ("slot"), starting at position `start` of that
/// slot's KV cache: the unit ``DecoderForward`` batches. A prompt chunk is one segment; a
/// server decode step is one single-token segment per busy slot.
public struct SequenceSegment: Sendable, Equatable {
    public var slot: Int
    public var start: Int
    public var tokens: [Int]
    /// Whether logits are wanted for every token (prompt scoring) or only the last one.
    public var allLogits: Bool
    /// For RoPE scalings that follow the sequence length (``DynamicRopeScaling``): the end of
    /// the evaluation this segment is one chunk of, so that every chunk of a prompt rotates
    /// with the frequencies of the whole prompt, as one forward pass over it would. nil: the
    /// segment's own end.
    public var ropeEnd: Int?
    /// Whether the tokens are (part of) a prompt. Prompt rows always take the prompt kernels'
    /// arithmetic, however the prompt is chunked and whatever shares the step, so a prompt
    /// resumed from a cached prefix gets exactly the logits of a cold one; a single token that
    /// is not a prompt's is a decode row (``isDecode``).
    public var isPrompt: Bool
    /// Whether the tokens are draft tokens being verified (speculative decoding): each row
    /// then takes the decode kernels (activations quantised per row, as a one-token step
    /// quantises them), so its logits are those plain one-token-at-a-time decoding would
    /// give, up to float summation order, rather than the float prompt path's.
    public var isDraft: Bool

    public init(slot: Int, start: Int, tokens: [Int], allLogits: Bool = false, ropeEnd: Int? = nil, isPrompt: Bool = false,
                isDraft: Bool = false) {
        self.slot = slot
        self.start = start
        self.tokens = tokens
        self.allLogits = allLogits
        self.ropeEnd = ropeEnd
        self.isPrompt = isPrompt
        self.isDraft = isDraft
    }

    /// Whether the segment's rows are decode rows (a single generated token, or draft tokens)
    /// rather than prompt rows: the arithmetic its products give them (``BatchRows``).
    var isDecode: Bool { (tokens.count == 1 || isDraft) && !isPrompt }

    /// Whether `segments` form a decode step (single tokens or draft tokens, none of them a prompt's).
    static func isDecodeStep(_ segments: [SequenceSegment]) -> Bool {
        segments.allSatisfy(\.isDecode)
    }

    /// Where the segment's dynamic RoPE frequencies are computed for: ``ropeEnd`` or its end.
    var effectiveRopeEnd: Int { max(ropeEnd ?? 0, start + tokens.count) }
}
