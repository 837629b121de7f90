import Foundation

/// Tokenises a loaded dataset into the sequences a run trains on: labels masked to assistant
/// turns, cutoff applied, raw text chunked, examples optionally packed.
///
/// ```swift
/// let data = try DatasetLoader.load(path: "train.jsonl")
/// let builder = try TrainingDataBuilder(tokenizer: ConversationTokenizer(model: model), config: config)
/// let (sequences, report) = try builder.build(data.examples)
/// print(report)   // "120 examples → 120 sequences, …; 3 longer than the cutoff (410 tokens cut)"
/// ```
public struct TrainingDataBuilder: Sendable {
    public let tokenizer: ConversationTokenizer
    /// Longest sequence in tokens.
    public let cutoffLength: Int
    /// Pack examples into cutoff-long sequences (``SequencePacker``).
    public let packing: Bool
    /// An over-long conversation is an error instead of being truncated.
    public let strict: Bool
    /// How over-long conversations are shortened.
    public let truncation: SequenceTruncation

    /// - Throws: ``TrainingError/invalidParameter(_:)`` for a cutoff below 2.
    public init(tokenizer: ConversationTokenizer, cutoffLength: Int, packing: Bool = false, strict: Bool = false,
                truncation: SequenceTruncation = .perTurn) throws {
        guard cutoffLength >= 2 else {
            throw TrainingError.invalidParameter("--cutoff-len must be ≥ 2 (one input and one target token), got \(cutoffLength)")
        }
        self.tokenizer = tokenizer
        self.cutoffLength = cutoffLength
        self.packing = packing
        self.strict = strict
        self.truncation = truncation
    }

    /// With `config`'s cutoff length, packing and strictness.
    public init(tokenizer: ConversationTokenizer, config: FineTuneConfig) throws {
        try self.init(tokenizer: tokenizer, cutoffLength: config.cutoffLength, packing: config.packing, strict: config.strict,
                      truncation: config.truncation)
    }

    /// The sequences of `examples` and what was done to them.
    ///
    /// A conversation longer than the cutoff is shortened by ``truncation`` (by default as
    /// LLaMA-Factory does, turn by turn), or is an error with `strict`. A raw text longer than
    /// the cutoff becomes several cutoff-long sequences. Position 0 of every sequence is never a
    /// target (nothing precedes it).
    /// - Throws: ``TrainingError/sequenceTooLong(example:tokens:cutoff:)`` under `strict`,
    ///   ``TrainingError/tokenization(example:reason:)``, and
    ///   ``TrainingError/emptyDataset(path:)`` when no example has a trained token left.
    public func build(_ examples: [TrainingExample]) throws -> (sequences: [TrainingSequence], report: TokenizationReport) {
        var report = TokenizationReport()
        var sequences: [TrainingSequence] = []
        for example in examples {
            report.examples += 1
            let (sequence, targets) = try tokenizer.tokenizeWithTargets(example)
            var pieces: [TrainingSequence]
            if sequence.count <= cutoffLength {
                pieces = [sequence]
            } else if case .text = example.content {
                report.chunked += 1
                pieces = stride(from: 0, to: sequence.count, by: cutoffLength).map { start in
                    let end = min(sequence.count, start + cutoffLength)
                    return TrainingSequence(inputIDs: Array(sequence.inputIDs[start..<end]),
                                            labels: Array(sequence.labels[start..<end]), sources: sequence.sources)
                }
            } else {
                if strict {
                    throw TrainingError.sequenceTooLong(example: example.source, tokens: sequence.count, cutoff: cutoffLength)
                }
                let cut = truncation.apply(sequence, targets: targets, cutoff: cutoffLength)
                report.truncated += 1
                report.truncatedTokens += sequence.count - cut.count
                pieces = [cut]
            }
            for var piece in pieces {
                if !piece.labels.isEmpty { piece.labels[0] = TrainingSequence.ignoreIndex }
                if piece.trainedTokenCount == 0 {
                    // A one-token chunk, or a conversation whose assistant turns were all cut.
                    report.droppedWithoutTargets += 1
                    continue
                }
                sequences.append(piece)
            }
        }
        guard !sequences.isEmpty else {
            // Name the file: sources read "FILE: line N".
            let source = examples.first?.source ?? "the dataset"
            throw TrainingError.emptyDataset(path: source.range(of: ": line ", options: .backwards).map { String(source[..<$0.lowerBound]) } ?? source)
        }
        if packing { sequences = SequencePacker.pack(sequences, capacity: cutoffLength) }
        report.sequences = sequences.count
        report.tokens = sequences.reduce(0) { $0 + $1.count }
        report.trainedTokens = sequences.reduce(0) { $0 + $1.trainedTokenCount }
        return (sequences, report)
    }
}
